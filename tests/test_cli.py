"""The revsim command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from sim.scenario.loader import scenario_from_yaml_text
from sim.scenario.templates import load_template, template_fragment, template_names


def revsim(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_run_writes_the_results_folder_and_prints_the_table(tmp_path):
    out = tmp_path / "res"
    p = revsim("run", "scenarios/sales_led.yaml", "--seeds", "3", "--workers", "1", "--out",
               str(out))
    assert p.returncode == 0, p.stderr
    assert "Bookings" in p.stdout and "CAC payback" in p.stdout
    assert str(out) in p.stdout
    assert {"manifest.json", "runs.parquet", "monthly.parquet", "forecast.parquet",
            "summary.csv"} <= {f.name for f in out.iterdir()}
    assert json.loads((out / "manifest.json").read_text())["seeds"] == 3


def test_quiet_prints_only_the_results_path(tmp_path):
    p = revsim("run", "scenarios/sales_led.yaml", "--seeds", "2", "--workers", "1", "--quiet",
               "--out", str(tmp_path / "q"))
    assert p.returncode == 0
    assert p.stdout.strip() == f"results: {tmp_path / 'q'}"


def test_bad_option_is_exit_2():
    p = revsim("run", "scenarios/sales_led.yaml", "--seeds", "0")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr


def test_templates_show_is_a_valid_commented_scenario_with_the_defaults():
    for name in template_names():
        text = template_fragment(name)
        assert "#" in text
        sc = scenario_from_yaml_text(text, f"{name}.yaml")
        fresh = scenario_from_yaml_text(f"name: x\nmotions:\n  - template: {name}\n")
        assert sc.motions[0].model_dump() == fresh.motions[0].model_dump()
        assert load_template(name)


def test_templates_list_and_schema():
    p = revsim("templates", "list")
    assert p.returncode == 0 and "sales_led" in p.stdout
    p = revsim("schema")
    schema = json.loads(p.stdout)
    assert "sales_led" in schema["$defs"]["Motion"]["properties"]["template"]["enum"]


def test_python_api_exports():
    import sim

    assert set(sim.__all__) == {"Results", "ScenarioError", "__version__", "load_scenario",
                                "simulate"}


def test_help_lists_levers_sets_metrics_and_examples_and_flags_read_as_flags():
    from sim.metrics import METRICS
    from sim.scenario.levers import LEVERS, SHOCK_SETS

    p = revsim("stress", "--help")
    assert p.returncode == 0
    assert "<bool>" not in p.stdout and "--all-sets " in p.stdout
    assert all(lever in p.stdout for lever in LEVERS)
    assert all(f"{name}:" in p.stdout for name in SHOCK_SETS)
    assert "revsim stress plan.yaml --set downturn" in p.stdout
    s = revsim("sensitivity", "--help").stdout
    assert all(m in s for m in METRICS) and "Examples:" in s
    for command in ("run", "validate", "calibrate", "report"):
        h = revsim(command, "--help").stdout
        assert "Example" in h and "<bool>" not in h, command


def test_command_modules_share_public_helpers_and_keep_the_command_order():
    """stress and sensitivity live in sim/cli_stress.py, registered on the one app; the
    helpers the commands share are public names of sim/cli_common.py, which imports no
    command module."""
    import ast
    from pathlib import Path

    import sim

    root = Path(sim.__file__).parent
    for name in ("cli.py", "cli_common.py", "cli_stress.py", "cli_fit.py"):
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sim"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, (name, node.module, private)
                if name in ("cli_common.py", "cli_stress.py"):
                    assert node.module != "sim.cli", name
                    assert not (node.module == "sim" and any(
                        a.name.startswith("cli") for a in node.names)), name
    h = revsim("--help").stdout
    commands = [w for w in ("run", "validate", "stress", "sensitivity", "calibrate", "report",
                            "schema", "fit", "backtest", "plan", "templates")
                if f"\n  {w} " in h]
    assert commands == ["run", "validate", "stress", "sensitivity", "calibrate", "report",
                        "schema", "fit", "backtest", "plan", "templates"]
    assert [h.index(f"\n  {w} ") for w in commands] == sorted(h.index(f"\n  {w} ")
                                                             for w in commands)
