"""The package installs as a napari plugin, its core stays headless, and its modules stay tidy."""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import json
import os
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import napari_roimasks

GUI_PACKAGES = (
    "napari",
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "magicgui",
    "vispy",
    "matplotlib",
)
QT_BINDINGS = ("PyQt5", "PyQt6", "PySide2", "PySide6")
PACKAGE = "napari_roimasks"
PACKAGE_DIR = Path(napari_roimasks.__file__).parent
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"
# the modules that face napari: the docks, the main job and the manifest's hooks
NAPARI_FACING = tuple(
    f"{PACKAGE}.{name}"
    for name in ("widgets", "__main__", "_reader", "_writer", "_sample_data", "layers")
)
VIEWER_MISSING = (
    "napari-roimasks: the viewer needs napari and a Qt binding: pip install 'napari-roimasks[all]'"
)


def _package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name, found on disk (nothing is imported)."""
    modules = {PACKAGE: PACKAGE_DIR / "__init__.py"}
    folders = [(PACKAGE_DIR, PACKAGE)]
    while folders:
        folder, prefix = folders.pop()
        for info in pkgutil.iter_modules([str(folder)]):
            name = f"{prefix}.{info.name}"
            if info.ispkg:
                modules[name] = folder / info.name / "__init__.py"
                folders.append((folder / info.name, name))
            else:
                modules[name] = folder / f"{info.name}.py"
    return modules


MODULES = _package_modules()


def _faces_napari(module: str) -> bool:
    return any(module == m or module.startswith(f"{m}.") for m in NAPARI_FACING)


def _headless_groups() -> dict[str, list[str]]:
    """The headless modules, grouped by top-level subpackage (core, io, model, pipeline, ...)."""
    groups: dict[str, list[str]] = {}
    for module in sorted(MODULES):
        if _faces_napari(module):
            continue
        parts = module.split(".")
        is_package = MODULES[module].name == "__init__.py"
        top = parts[1] if len(parts) > 2 or (len(parts) == 2 and is_package) else None
        key = f"{PACKAGE}.{top}" if top else f"{PACKAGE} (top-level modules)"
        groups.setdefault(key, []).append(module)
    return groups


HEADLESS_GROUPS = _headless_groups()


# Run in a fresh interpreter: a finder first on sys.meta_path notes the package's line that first
# imports each GUI package (directly, or through a library it calls).
_WATCH_GUI_IMPORTS = """
import importlib, json, sys
gui = set(GUI_PACKAGES)
problems = {}

class NoteGuiImports:
    def find_spec(self, name, path=None, target=None):
        if name in gui:
            frame = sys._getframe(1)
            while frame and not frame.f_globals.get("__name__", "").startswith("napari_roimasks"):
                frame = frame.f_back
            where = f"{frame.f_globals['__name__']} (line {frame.f_lineno})" if frame else "?"
            problems.setdefault(current, []).append(f"{where} imports {name}")
        return None

sys.meta_path.insert(0, NoteGuiImports())
for current in MODULES:
    try:
        importlib.import_module(current)
    except Exception as error:
        problems.setdefault(current, []).append(
            f"fails to import: {type(error).__name__}: {error}"
        )
print(json.dumps(problems))
"""


@pytest.mark.parametrize("group", sorted(HEADLESS_GROUPS))
def test_headless_modules_import_no_gui_package(group):
    """A pipeline-only install has no napari or Qt: these modules must import without them."""
    code = f"GUI_PACKAGES = {GUI_PACKAGES!r}\nMODULES = {HEADLESS_GROUPS[group]!r}\n"
    result = subprocess.run(
        [sys.executable, "-c", code + _WATCH_GUI_IMPORTS], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout)
    assert problems == {}, "\n".join(
        f"importing {module}: {'; '.join(found)}" for module, found in problems.items()
    )


def _run_without(tmp_path, blocked, args):
    """Run python with ``args`` while the packages ``blocked`` cannot be imported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import sys\nfor name in {tuple(blocked)!r}:\n    sys.modules[name] = None\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("blocked", "message"),
    [
        (("napari",), VIEWER_MISSING),
        (QT_BINDINGS, VIEWER_MISSING),
        (
            ("matplotlib",),
            "napari-roimasks: the docks need matplotlib beside napari: "
            "pip install 'napari-roimasks[gui]'",
        ),
    ],
    ids=["no napari", "no Qt binding", "napari without matplotlib"],
)
def test_main_job_without_viewer_packages_says_what_to_install(tmp_path, blocked, message):
    result = _run_without(tmp_path, blocked, ["-m", PACKAGE])
    assert (result.returncode, result.stdout, result.stderr.splitlines()) == (1, "", [message])


def test_docks_without_napari_raise_one_line_import_error(tmp_path):
    """What napari's manifest imports, without napari: one message, no chained traceback."""
    code = """
import json
report = {}
for module in ("napari_roimasks.widgets", "napari_roimasks.widgets.roi_masks_dock"):
    try:
        __import__(module)
    except ImportError as error:
        chained = error.__cause__ is not None or (
            error.__context__ is not None and not error.__suppress_context__
        )
        report[module] = [str(error), chained]
    else:
        report[module] = ["imported", False]
print(json.dumps(report))
"""
    result = _run_without(tmp_path, ["napari"], ["-c", code])
    report = json.loads(result.stdout)
    assert report == {
        "napari_roimasks.widgets": [VIEWER_MISSING, False],
        "napari_roimasks.widgets.roi_masks_dock": [VIEWER_MISSING, False],
    }


@dataclass(frozen=True)
class _Import:
    importer: str
    line: int
    target: str  # a module of the package
    private_name: str | None  # a private name taken from ``target``, if any


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """The package-internal imports of one module, at module level and inside functions.

    Imports under ``if TYPE_CHECKING:`` are left out: they never run.
    """

    def __init__(self, module: str):
        self.module = module
        self.package = (
            module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        )
        self.imports: list[_Import] = []
        self.module_aliases: dict[str, str] = {}  # local name -> package module it is bound to
        self.attributes: list[tuple[str, str, int]] = []  # (alias, attribute, line)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in MODULES:
                self.imports.append(_Import(self.module, node.lineno, alias.name, None))
                if alias.asname:
                    self.module_aliases[alias.asname] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if base not in MODULES:
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in MODULES:  # ``from . import x`` imports the module x
                self.imports.append(_Import(self.module, node.lineno, submodule, None))
                self.module_aliases[alias.asname or alias.name] = submodule
            else:
                private = alias.name if _is_private(alias.name) else None
                self.imports.append(_Import(self.module, node.lineno, base, private))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name):
            self.attributes.append((node.value.id, node.attr, node.lineno))
        self.generic_visit(node)


def _collectors() -> dict[str, _ImportCollector]:
    collectors = {}
    for module, path in MODULES.items():
        collector = _ImportCollector(module)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        collectors[module] = collector
    return collectors


def _short(module: str) -> str:
    return module.removeprefix(f"{PACKAGE}.")


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle for each strongly connected part of ``graph`` that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                parts.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for part in parts:  # the shortest way round from the part's first module
        members, start = set(part), min(part)
        paths = {start: [start]}
        frontier = [start]
        while frontier and start not in {t for n in frontier for t in graph[n]}:
            following = []
            for node in frontier:
                for target in sorted(graph[node]):
                    if target in members and target not in paths:
                        paths[target] = [*paths[node], target]
                        following.append(target)
            frontier = following
        last = next(n for n in frontier if start in graph[n])
        cycles.append([*paths[last], start])
    return cycles


def test_package_has_no_import_cycle():
    """Imports inside functions count too: they only put the failure off until the call."""
    graph: dict[str, dict[str, int]] = {module: {} for module in MODULES}
    for collector in _collectors().values():
        for found in collector.imports:
            if found.target != found.importer:
                graph[found.importer].setdefault(found.target, found.line)
    cycles = _cycles(graph)
    described = [
        " -> ".join(f"{_short(a)} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle))
        + f" -> {_short(cycle[-1])}"
        for cycle in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_no_module_imports_another_modules_private_name():
    """A private name one module needs from another belongs in a shared module, made public."""
    violations = []
    for module, collector in sorted(_collectors().items()):
        for found in collector.imports:
            if found.private_name:
                violations.append(
                    f"{_short(module)}:{found.line} imports {_short(found.target)}."
                    f"{found.private_name}"
                )
        for alias, attribute, line in collector.attributes:
            target = collector.module_aliases.get(alias)
            if target and _is_private(attribute) and f"{target}.{attribute}" not in MODULES:
                violations.append(f"{_short(module)}:{line} uses {_short(target)}.{attribute}")
    assert not violations, "private names taken from other modules:\n" + "\n".join(violations)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """The base dependencies and each extra's, with the package's own extras expanded."""
    tomllib = pytest.importorskip("tomllib")
    requirements = pytest.importorskip("packaging.requirements")
    if not PYPROJECT.is_file():
        pytest.skip("pyproject.toml is not beside the tests")
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    own = _normalise(project["name"])

    def expand(specs: list[str]) -> set[str]:
        names = set()
        for spec in specs:
            requirement = requirements.Requirement(spec)
            if _normalise(requirement.name) == own:
                for extra in requirement.extras:
                    names |= expand(project["optional-dependencies"][extra])
            else:
                names.add(_normalise(requirement.name))
        return names

    extras = {name: expand(specs) for name, specs in project["optional-dependencies"].items()}
    return expand(project["dependencies"]), extras


def _third_party_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(top-level name, line, inside a function) of every third-party import in a file."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level:
                names = [child.module or ""]
            else:
                names = []
            for name in names:
                top = name.split(".")[0]
                if top and top != PACKAGE and top not in sys.stdlib_module_names:
                    found.append((top, child.lineno, in_function))
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_every_third_party_import_is_declared():
    """An undeclared import works here (the test environment has everything) and breaks a user's.

    Headless modules may import only base dependencies at module level, and optional extras
    (``nwb``, ``distributed``) inside functions; napari-facing modules may use the ``all`` extra.
    """
    base, extras = _declared()
    optional = set().union(*(names for extra, names in extras.items() if extra != "testing"))
    gui = base | extras["all"]
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for module, path in sorted(MODULES.items()):
        for name, line, in_function in _third_party_imports(path):
            candidates = {_normalise(d) for d in distributions.get(name, [name])}
            if _faces_napari(module):
                allowed, where = gui, "base or the all extra"
            elif in_function:
                allowed, where = base | optional, "base or an optional extra"
            else:
                allowed, where = base, "base dependencies (imported at module level)"
            if not candidates & allowed:
                undeclared.append(f"{_short(module)}:{line} imports {name}: not in {where}")
    assert not undeclared, "imports pyproject.toml does not declare:\n" + "\n".join(undeclared)


def test_drop_in_api_has_allensdk_names():
    from napari_roimasks import roi_masks

    assert (
        roi_masks.RIGHT_SHIFT,
        roi_masks.LEFT_SHIFT,
        roi_masks.DOWN_SHIFT,
        roi_masks.UP_SHIFT,
    ) == (0, 1, 2, 3)
    for name in (
        "Mask",
        "RoiMask",
        "NeuropilMask",
        "create_roi_mask",
        "create_neuropil_mask",
        "create_roi_mask_array",
        "validate_mask",
        "calculate_traces",
        "calculate_roi_and_neuropil_traces",
    ):
        assert callable(getattr(roi_masks, name))
    assert issubclass(roi_masks.RoiMask, roi_masks.Mask) and issubclass(
        roi_masks.NeuropilMask, roi_masks.Mask
    )


def test_manifest_npe2_loads_is_the_root_file():
    npe2 = pytest.importorskip("npe2")
    from importlib.resources import files

    manifest = npe2.PluginManifest.from_distribution("napari-roimasks")
    assert manifest.name == "napari-roimasks"
    root = Path(__file__).parents[1] / "napari.yaml"
    packaged = files("napari_roimasks") / "napari.yaml"
    assert packaged.read_text() == root.read_text()
    from_root = npe2.PluginManifest.from_file(root)
    assert (from_root.display_name, from_root.contributions) == (
        manifest.display_name,
        manifest.contributions,
    )


def test_npe2_validate_command_passes():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari_roimasks"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_no_two_test_files_share_a_name():
    # pytest imports test files by their name (no packages here): a second test_x.py in
    # another folder stops the whole run at collection
    names = [path.name for path in Path(__file__).parent.rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
