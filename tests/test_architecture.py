"""The plan of the house (``docs/architecture.md``), enforced: which room may import which, no import
circles, every fast path in a learner's room one statement, and no learner's room too long to read.

Imports are read from the source with ``ast``, at module level *and* inside functions (a deferred
import is still a dependency), so nothing here depends on what happens to be imported at run time.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nnscratch"

# The storeys, bottom to top: a module may import modules of its own storey or a lower one, never a
# higher one (docs/architecture.md draws them).
STOREYS = [
    ("base", ["version", "errors", "utils", "counter_random", "tape", "tensor", "initializers", "registry",
              "checks", "progress", "summary", "fileio", "datasets", "data_adapter", "symbolic"]),
    ("engine", ["engine", "backend"]),
    ("math", ["activations", "ops", "array_ops", "loss_functions", "layers", "input_layer", "conv", "merging",
              "losses", "elementwise_losses", "metrics", "schedules", "optimizers"]),
    ("models", ["callbacks", "monitors", "saving", "keras_format", "keras_graph", "h5_weights", "subclassing",
                "training", "models", "functional", "graph_io", "gradcheck", "data", "batch_sources"]),
    ("surface", ["keras", "nn", "math", "random", "saved_model", "__init__"]),
    ("apps", ["__main__", "workshop", "exercises", "zoo", "plotting"]),
]
# kNN is a library of its own beside the network: it may use the base, nothing else of nnscratch.
SEPARATE = {"neighbors": "base"}
# The learner's rooms: the math a reader follows through one training step.
LEARNER_ROOMS = ["models", "training", "layers", "conv", "activations", "losses", "elementwise_losses", "metrics",
                 "schedules", "optimizers", "callbacks", "monitors", "gradcheck", "tape", "ops", "array_ops",
                 "loss_functions", "subclassing", "symbolic", "input_layer", "merging", "functional"]
LEARNER_MAX_LINES = 450
# What a learner's room may import from the engine: the fast paths, row-split inference, the names of
# the fused activations.  Never a loop directly.
ENGINE_DOORS = {"nnscratch.engine", "nnscratch.engine.fast", "nnscratch.engine.inference"}
# The one module of the library that may import keras_reference (and so TensorFlow).
REFERENCE_DOOR = "nnscratch.workshop.keras_side"


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name, path, known=()):
    """Every module ``name`` imports (absolute names), from any line of its source.  ``from P import x``
    imports the module ``P.x`` if ``known`` has it, else ``P`` itself (``x`` is one of its names)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found


def graph():
    """nnscratch's modules and the nnscratch modules each imports."""
    mods = modules()
    edges = {}
    for name, path in mods.items():
        edges[name] = {m for m in imports(name, path, mods) if m in mods and m != name}
    return mods, edges


def room(name):
    """The room of a module: ``nnscratch.engine.fast`` -> ``engine``; ``nnscratch`` -> ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def storey(name):
    r = room(name)
    if r in SEPARATE:
        return r
    for i, (_, rooms) in enumerate(STOREYS):
        if r in rooms:
            return i
    raise AssertionError(f"{name} is in no room of docs/architecture.md's plan; add its room to "
                         "STOREYS here and to the picture there")


def test_every_module_has_a_room():
    for name in modules():
        storey(name)


def test_no_module_imports_a_higher_storey():
    _, edges = graph()
    wrong = []
    for a, targets in edges.items():
        for b in targets:
            sa, sb = storey(a), storey(b)
            if isinstance(sa, str):                 # a separate library: the base only, or itself
                ok = sb == STOREYS.index(next(s for s in STOREYS if s[0] == SEPARATE[sa])) or room(b) == sa
            elif isinstance(sb, str):
                ok = STOREYS[sa][0] == "apps"       # only the apps use kNN
            else:
                ok = sb <= sa
            if not ok:
                wrong.append(f"{a} -> {b}")
    assert wrong == [], "imports against the plan of docs/architecture.md:\n" + "\n".join(wrong)


def test_no_import_circles():
    _, edges = graph()
    state, stack, circles = {}, [], []

    def visit(a):
        state[a] = "open"
        stack.append(a)
        for b in sorted(edges[a]):
            if state.get(b) == "open":
                circles.append(" -> ".join(stack[stack.index(b):] + [b]))
            elif b not in state:
                visit(b)
        stack.pop()
        state[a] = "done"

    for a in sorted(edges):
        if a not in state:
            visit(a)
    assert circles == [], "import circles:\n" + "\n".join(circles)


def test_learner_rooms_reach_the_engine_through_its_doors_only():
    _, edges = graph()
    for r in LEARNER_ROOMS:
        name = f"nnscratch.{r}"
        into_engine = {b for b in edges[name] if room(b) == "engine"}
        assert into_engine <= ENGINE_DOORS, f"{name} imports {sorted(into_engine - ENGINE_DOORS)}"


def test_the_reference_and_the_benchmarks_stay_outside_the_library():
    for name, path in modules().items():
        outside = {m.split(".")[0] for m in imports(name, path)} & {"keras_reference", "benchmarks"}
        if name != REFERENCE_DOOR:
            assert not outside, f"{name} imports {sorted(outside)}; only {REFERENCE_DOOR} may (keras_reference)"
    assert "keras_reference" in {m.split(".")[0] for m in imports(REFERENCE_DOOR, modules()[REFERENCE_DOOR])}


def _is_fast_test(test):
    """``backend.fast()``, alone or as the first operand of an ``and``."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        test = test.values[0]
    return (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "fast"
            and isinstance(test.func.value, ast.Name) and test.func.value.id == "backend")


@pytest.mark.parametrize("r", LEARNER_ROOMS)
def test_every_fast_path_in_a_learner_room_is_one_statement(r):
    path = PACKAGE / f"{r}.py"
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and _is_fast_test(node.test):
            if len(node.body) != 1 or isinstance(node.body[0], (ast.If, ast.For, ast.While, ast.With)):
                long.append(f"{path.name}:{node.lineno}")
    assert long == [], f"fast paths longer than one statement (move them into engine/fast.py): {long}"


def test_the_learner_rooms_hand_their_fast_paths_to_the_engine():
    """The engine is really used: the rooms whose methods have fast paths call into engine.fast."""
    for r in ("layers", "conv", "losses", "optimizers", "training"):
        source = (PACKAGE / f"{r}.py").read_text()
        assert "backend.fast()" in source and ("fast." in source or "inference." in source), r


@pytest.mark.parametrize("r", LEARNER_ROOMS)
def test_no_learner_room_is_too_long_to_read(r):
    lines = len((PACKAGE / f"{r}.py").read_text().splitlines())
    assert lines <= LEARNER_MAX_LINES, (f"{r}.py has {lines} lines; a learner's room stays under "
                                        f"{LEARNER_MAX_LINES} (split it into rooms with one job each)")


def test_the_plan_in_the_docs_names_every_room():
    plan = (ROOT / "docs" / "architecture.md").read_text()
    for _, rooms in STOREYS:
        for r in rooms:
            shown = "nnscratch/__init__.py" if r == "__init__" else r
            assert shown in plan, f"docs/architecture.md does not mention {shown}"
    for r in SEPARATE:
        assert r in plan
