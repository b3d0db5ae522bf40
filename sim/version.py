"""The package version (one place; ``sim.__version__`` reads it)."""

__version__ = "0.1.0"
