"""revsim: Monte Carlo revenue-system simulator (package ``sim``).

The public API::

    from sim import load_scenario, simulate
    results = simulate(load_scenario("scenarios/sales_led.yaml"), seeds=200)
    results.runs, results.monthly, results.forecast, results.summary()
    results.save("results/my-run")      # the tables, summary and manifest

    from sim.publish import save_results
    save_results(results, "results/my-run-with-report")  # what `revsim run` writes
"""

from sim.runner.api import simulate
from sim.runner.results import Results
from sim.scenario.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.version import __version__

__all__ = ["Results", "ScenarioError", "__version__", "load_scenario", "simulate"]
