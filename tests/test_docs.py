"""The README's speed table is made from the committed results file it names, not typed by hand."""
import importlib.util
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _speed_module():
    spec = importlib.util.spec_from_file_location("speed_benchmark", ROOT / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_speed_table_is_the_one_its_results_file_gives():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- generated: python benchmarks/speed.py --readme (\S+) -->\n(.*?)"
                      r"<!-- end of generated table -->", readme, re.S)
    assert found, "README.md has no generated speed table"
    path, table = found.groups()
    result = json.loads((ROOT / path).read_text())
    speed = _speed_module()
    assert table == speed.readme_table(result, path), (
        f"README.md's speed table differs from {path}: regenerate it with "
        f"python benchmarks/speed.py --readme {path}")
    # every anchor, not a selection: each side the run measured is a column, each workload it ran a row
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    sides = [s for s in result["summary"] if any(result["summary"][s].values())]
    assert rows[0].count("|") - 1 == 1 + len(sides) + 1            # workload, the sides, the GEMM limit
    workloads = [w for g in result["config"]["groups"] for w in speed.GROUPS[g] if w != "predict"]
    assert len([r for r in rows if ", batch " in r]) == len(workloads)
