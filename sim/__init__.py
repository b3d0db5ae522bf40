"""revsim: Monte Carlo revenue-system simulator (package ``sim``)."""

from sim.scenario.loader import load_scenario

__all__ = ["load_scenario", "__version__"]
__version__ = "0.1.0"
