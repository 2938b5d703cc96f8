"""Imports point down the layers (README, Layout), with no function-level import dodging a cycle.

Every module's imports are read with ``ast`` (nothing is imported). A new top-level module or package must be
placed in a layer here: an unplaced one fails the test, so the layering is decided, not drifted into.
"""

from __future__ import annotations

import ast
from pathlib import Path

import labelsieve

ROOT = Path(labelsieve.__file__).parent

#: lowest first; a module may import its own layer and the layers before it
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundations", frozenset({"settings", "registry", "params", "labelconfig", "metrics", "arrays", "input_cache",
                              "devices", "cleanlab_calls", "heap"})),
    ("storage", frozenset({"storage"})),
    ("domain", frozenset({"labelstudio", "inputs", "learners", "strategies", "balancing", "testing", "quality",
                          "tasktypes", "detection", "spans", "labelsieve"})),
    ("service", frozenset({"service", "pool"})),
    ("simulate/report", frozenset({"simulate", "report", "pages"})),
    ("entry points", frozenset({"api", "commands", "cli"})),
)
#: function-level labelsieve imports allowed, each for a documented reason (none may dodge a cycle)
ALLOWED_NESTED = {
    # `import labelsieve` exports check_strategy; its learners (scikit-learn, torch) load on first use (docstring)
    ("labelsieve.testing", "labelsieve.learners.vector"),
    ("labelsieve.testing", "labelsieve.learners.image"),
    ("labelsieve.testing", "labelsieve.learners.multilabel"),
    ("labelsieve.testing", "labelsieve.detection.learner"),
    # mlflow is the optional extra labelsieve[mlflow]: loaded only when a tracking URI is configured (docstring)
    ("labelsieve.quality.service_calls", "labelsieve.quality.tracking"),
    # ray is the optional extra labelsieve[ray]: imported only for `--engine ray` (make_engine's docstring)
    ("labelsieve.pool.engine", "labelsieve.pool.ray_engine"),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["labelsieve", *parts])


def unit_of(module: str) -> str:
    """The layer unit of a module: its top-level package or module under labelsieve (``labelsieve`` for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "labelsieve"


def layer_of(unit: str) -> int | None:
    for index, (_, units) in enumerate(LAYERS):
        if unit in units:
            return index
    return None


def imports_of(path: Path, root: Path) -> list[tuple[str, int, bool]]:
    """(imported labelsieve module, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = not top or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, top) for a in child.names if a.name.split(".")[0] == "labelsieve")
            elif isinstance(child, ast.ImportFrom):
                target = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join([*base, *([target] if target else [])])
                if target.split(".")[0] == "labelsieve":
                    found.append((target, child.lineno, top))
            visit(child, top and not nested)

    visit(tree, True)
    return found


def violations(root: Path) -> dict[str, list[str]]:
    """Upward imports, unexplained function-level imports, unplaced units, cycles between units of one layer,
    and registries built outside the one door, as readable lines."""
    out: dict[str, list[str]] = {"upward": [], "nested": [], "unplaced": [], "cycles": [], "registry": []}
    edges: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        unit = unit_of(module)
        own = layer_of(unit)
        if own is None:
            out["unplaced"].append(f"{module}: place {unit!r} in a layer of tests/unit/test_layers.py")
            continue
        for target, line, top in imports_of(path, root):
            where = f"{path.relative_to(root.parent)}:{line}"
            if not top and (module, target) not in ALLOWED_NESTED:
                out["nested"].append(f"{where}: function-level import of {target}")
            other = unit_of(target)
            theirs = layer_of(other)
            if theirs is not None and theirs > own:
                out["upward"].append(f"{where}: {LAYERS[own][0]} module {module} imports {LAYERS[theirs][0]} "
                                     f"module {target}")
            if theirs == own and other != unit and top:
                edges.setdefault(unit, set()).add(other)
        if module != "labelsieve.registry":
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                        "Registry", "Registries"):
                    out["registry"].append(f"{path.relative_to(root.parent)}:{node.lineno}: {node.func.id}() built "
                                           "here; use labelsieve.registry.get_registry / get_registries")
    out["cycles"] = _cycles(edges)
    return out


def _cycles(edges: dict[str, set[str]]) -> list[str]:
    found: list[str] = []

    def walk(unit: str, trail: list[str]) -> None:
        for nxt in sorted(edges.get(unit, ())):
            if nxt in trail:
                ring = trail[trail.index(nxt):]
                first = ring.index(min(ring))  # one spelling per cycle, from its smallest unit
                ring = ring[first:] + ring[:first]
                cycle = " -> ".join([*ring, ring[0]])
                if cycle not in found:
                    found.append(cycle)
            else:
                walk(nxt, [*trail, nxt])

    for start in sorted(edges):
        walk(start, [start])
    return found


def test_every_module_sits_in_a_layer_and_imports_only_its_own_or_lower_layers() -> None:
    found = violations(ROOT)
    assert not found["unplaced"], "\n".join(found["unplaced"])
    assert not found["upward"], "imports pointing up the layers:\n" + "\n".join(found["upward"])


def test_no_function_level_imports_and_no_cycles_between_packages_of_one_layer() -> None:
    found = violations(ROOT)
    assert not found["nested"], "function-level labelsieve imports (move them to the top):\n" + "\n".join(
        found["nested"])
    assert not found["cycles"], "import cycles between packages of one layer:\n" + "\n".join(found["cycles"])


def test_every_registry_lookup_goes_through_the_one_door() -> None:
    found = violations(ROOT)["registry"]
    assert not found, "\n".join(found)


def test_the_checker_sees_an_upward_import_a_nested_import_and_a_cycle(tmp_path: Path) -> None:
    """The checks can fail: a planted upward import, function-level import and cycle are each reported."""
    root = tmp_path / "labelsieve"
    for package in ("storage", "learners", "balancing", "service"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "storage" / "rows.py").write_text("from labelsieve.service.loop import ActiveLearningLoop\n")
    (root / "learners" / "image.py").write_text("from labelsieve.balancing.augment import mix\n")
    (root / "balancing" / "augment.py").write_text(
        "def mix():\n    from labelsieve.learners.image import ImageLearner\n    return ImageLearner\n")
    (root / "balancing" / "prepare.py").write_text("from labelsieve.learners import image\nRegistry('learners')\n")
    (root / "service" / "loop.py").write_text("ActiveLearningLoop = object\n")
    found = violations(root)
    assert found["upward"] == ["labelsieve/storage/rows.py:1: storage module labelsieve.storage.rows imports "
                               "service module labelsieve.service.loop"]
    assert found["nested"] == ["labelsieve/balancing/augment.py:2: function-level import of labelsieve.learners.image"]
    assert found["cycles"] == ["balancing -> learners -> balancing"]
    assert found["registry"] == ["labelsieve/balancing/prepare.py:2: Registry() built here; use "
                                 "labelsieve.registry.get_registry / get_registries"]


#: what only a job runner does: talk to Label Studio or another server, or start a thread
JOB_IMPORTS = ("labelsieve.labelstudio", "label_studio_sdk", "httpx", "requests")


def job_code(root: Path, package: str = "quality") -> list[str]:
    """Lines of ``labelsieve/<package>`` that run jobs instead of computing: imports of Label Studio clients or HTTP
    libraries, and ``Thread(...)`` calls (issue 22: quality/ computes, service/ runs the background jobs)."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(root.parent)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith(JOB_IMPORTS):
                    found.append(f"{where}:{node.lineno}: imports {name}")
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == "Thread":
                    found.append(f"{where}:{node.lineno}: starts a thread")
    return found


def test_quality_computes_and_service_runs_the_jobs(tmp_path: Path) -> None:
    found = job_code(ROOT)
    assert not found, "move job code to labelsieve/service/:\n" + "\n".join(found)
    planted = tmp_path / "labelsieve" / "quality"
    planted.mkdir(parents=True)
    (planted / "runner.py").write_text("import threading\nfrom labelsieve.labelstudio.client import LabelStudioClient\n"
                                       "threading.Thread(target=print).start()\n")
    assert job_code(tmp_path / "labelsieve") == [
        "labelsieve/quality/runner.py:2: imports labelsieve.labelstudio.client",
        "labelsieve/quality/runner.py:3: starts a thread"]
