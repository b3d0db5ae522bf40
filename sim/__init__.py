"""revsim: Monte Carlo revenue-system simulator (package ``sim``).

The public API::

    from sim import load_scenario, simulate
    results = simulate(load_scenario("scenarios/sales_led.yaml"), seeds=200)
    results.runs, results.monthly, results.forecast, results.summary()
    results.save("results/my-run")      # what `revsim run` writes, report included
"""

from pathlib import Path

from sim.runner.api import simulate
from sim.runner.results import PUBLISHER, Results
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.version import __version__

__all__ = ["Results", "ScenarioError", "__version__", "load_scenario", "simulate"]


def _publish(res: Results, directory: Path) -> Path:
    from sim.publish import save_results  # the report, imported only when a folder is saved

    return save_results(res, directory)


PUBLISHER[:] = [_publish]
