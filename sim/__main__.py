"""``python -m sim`` is the ``revsim`` command."""

from sim.cli import main

main()
