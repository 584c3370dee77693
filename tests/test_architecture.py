"""The architecture of ``docs/architecture.md`` holds for ``src/journeymine``.

- the package layout block lists exactly the modules under ``src/journeymine``;
- no import cycle between modules (imports inside functions count);
- no import from a lower layer to a higher one, per the layers table;
- no import of an underscore (private) module or name of another package;
- no test imports an underscore module or name of journeymine (except the unit tests of a
  private helper listed in ``ALLOWED_TEST_PRIVATE_IMPORTS``, each among the tests of the
  helper's own package);
- one job per module: none is longer than ``MAX_MODULE_LINES``, but the pm4py adapter.

Imports are read with :mod:`ast` (nothing is imported). The allowlists below hold the known
exceptions of today, each with its reason: a new one fails. When you fix one, delete its entry.
When you add or remove a module, edit the layout block of ``docs/architecture.md`` (the one
place to update): the failure message prints the line to add.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "journeymine"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Module cycles allowed today, as the (importer, imported) edge that closes each cycle: none
# (the last two, cli_config <-> cli_read and nextstep._model <-> nextstep._persist, went on
# 2026-12-07). A new one fails; if one must be allowed, say here why.
ALLOWED_CYCLE_EDGES: dict[tuple[str, str], str] = {}

# Private (underscore) modules imported across packages today, as (importer, private module).
# A package's public names are its seam; the one exception is on purpose and stays.
ALLOWED_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {
    # pm4py (AGPL) is confined to one private root module on purpose, so that nothing else
    # (persona assignment, the service) can load it; conformance and its design loader call
    # the adapter lazily, inside functions
    ("journeymine.journeys.conformance", "journeymine._pm4py"): (
        "pm4py (AGPL) confined to one private adapter module on purpose"
    ),
    ("journeymine.journeys._design", "journeymine._pm4py"): (
        "pm4py (AGPL) confined to one private adapter module on purpose"
    ),
}

# Private (underscore) modules or names of journeymine that tests import, as (test file, private
# module, or ``module.name`` for a private name of a public module). A test imports the public
# names, as a user does, so that moving a file inside a package breaks no test; these are the
# unit tests of a private helper of one package, each with what it checks that the public API
# cannot show. A new one fails, and so does one no test imports any more (delete it).
ALLOWED_TEST_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {
    ("tests/test_pm4py_adapter.py", "journeymine._pm4py"): (
        "the pm4py adapter's own tests: the AGPL adapter is one private module on purpose"
    ),
    ("tests/actions/test_uplift_change.py", "journeymine.actions._uplift_save"): (
        "a card written before change_scope existed: the test removes the field and re-signs "
        "the card with the fields the loader checks (KIND, CHECKSUMMED_FIELDS), which no "
        "public name gives"
    ),
    ("tests/assignment/test_model.py", "journeymine.assignment._buckets"): (
        "customer_folds: folds stratified by persona and grouped by customer, which fit() uses "
        "without showing them"
    ),
    ("tests/assignment/test_parity.py", "journeymine.assignment._inputs"): (
        "parse_events at the feature-spec level (no model): the dict path of assign() equals "
        "encode_log and the DuckDB features, bit for bit, for any featurizer settings"
    ),
    ("tests/io/test_tabular.py", "journeymine.io._parquet"): (
        "canonical_from_table: which Parquet files take the Arrow fast path (the result is the "
        "same either way, so read_events cannot show it)"
    ),
    ("tests/nextstep/test_blend.py", "journeymine.nextstep._blend"): (
        "the count/tree blend: out-of-fold counts, the context length, the counts alone where "
        "the blend loses on held-out cases"
    ),
    ("tests/nextstep/test_blend.py", "journeymine.nextstep._ngram"): (
        "NGram, the count model the blend combines"
    ),
    ("tests/nextstep/test_forest.py", "journeymine.nextstep._forest"): (
        "compile_forest: boosted trees compiled to numpy arrays answer as scikit-learn's, "
        "damaged state refused"
    ),
    ("tests/nextstep/test_ngram.py", "journeymine.nextstep._blend"): (
        "the blend weight: learnt by log loss, per context bucket, shrunk where a bucket has "
        "few held-out prefixes"
    ),
    ("tests/nextstep/test_ngram.py", "journeymine.nextstep._ngram"): (
        "NGram: counts interpolated from the prior up, its saved state refused when damaged"
    ),
    ("tests/report/test_layout.py", "journeymine.report._layout"): (
        "layered_layout: the geometry of the process map (edges point down, cycles, fewer "
        "crossings, deterministic), which the HTML cannot show"
    ),
    ("tests/service/test_streaming.py", "journeymine.service.streaming._Job"): (
        "the per-customer step of stream_decisions without Spark: events folded in chunks "
        "decide as the whole log, a late event counts for the gates, not the persona"
    ),
}

# Imports from a lower layer to a higher one allowed today, as (importer, imported).
ALLOWED_LAYER_VIOLATIONS: dict[tuple[str, str], str] = {}


# --- reading src/ ---------------------------------------------------------------------------


def _source_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``src/journeymine``."""
    modules = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _source_modules()


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a module of MODULES
    name: str | None  # the name imported from ``target`` (None for a module)
    line: int
    kind: str  # "top", "function" or "typing" (under TYPE_CHECKING)


def _resolve(dotted: str) -> str | None:
    while dotted and dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(module: str, path: Path) -> list[Import]:
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit_stmt(stmt, "typing")
                for stmt in child.orelse:
                    visit_stmt(stmt, kind)
            else:
                visit_stmt(child, kind)

    def visit_stmt(node: ast.AST, kind: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and kind == "top":
            kind = "function"
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name) if alias.name.startswith(PACKAGE) else None
                if target:
                    found.append(Import(module, target, None, node.lineno, kind))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                source = ".".join(base) + (f".{node.module}" if node.module else "")
            else:
                source = node.module or ""
            if source == PACKAGE or source.startswith(PACKAGE + "."):
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    if full in MODULES:
                        found.append(Import(module, full, None, node.lineno, kind))
                    else:
                        target = _resolve(source)
                        if target:
                            found.append(Import(module, target, alias.name, node.lineno, kind))
        visit(node, kind)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "top")
    return [imp for imp in found if imp.target != module]


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports_of(module, path)]


def _where(imp: Import) -> str:
    path = MODULES[imp.importer].relative_to(ROOT)
    what = imp.target + (f".{imp.name}" if imp.name else "")
    return f"{path}:{imp.line} imports {what} ({imp.kind})"


# --- reading docs/architecture.md ------------------------------------------------------------


def _architecture() -> str:
    return ARCHITECTURE.read_text(encoding="utf-8")


def documented_layout(text: str) -> dict[str, str]:
    """Dotted module name -> job, from the fenced block that starts with ``src/journeymine/``."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    block = next((b for b in blocks if b.startswith(f"src/{PACKAGE}/")), None)
    assert block is not None, f"docs/architecture.md has no fenced block starting src/{PACKAGE}/"
    lines = [line for line in block.splitlines()[1:] if line.strip()]
    stack: list[tuple[int, str]] = [(-1, PACKAGE)]  # (indent, dotted package)
    layout: dict[str, str] = {}
    for line in lines:
        indent = len(line) - len(line.lstrip())
        name, _, job = line.strip().partition(" ")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        assert stack, f"layout line indented less than the first entry: {line!r}"
        parent = stack[-1][1]
        if name.endswith("/"):
            stack.append((indent, f"{parent}.{name[:-1]}"))
        else:
            assert name.endswith(".py"), f"layout entry is neither a package/ nor a .py: {line!r}"
            stem = name[: -len(".py")]
            layout[parent if stem == "__init__" else f"{parent}.{stem}"] = job.strip()
    return layout


@dataclass(frozen=True)
class Layers:
    members: dict[str, int]  # member pattern -> layer number

    def layer_of(self, module: str) -> int | None:
        best: tuple[int, int] | None = None  # (specificity, layer)
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            prefix = ".".join(parts[:i])
            for pattern, layer in self.members.items():
                if fnmatch.fnmatchcase(prefix, pattern):
                    score = (i, 0 if "*" in pattern else 1)
                    if best is None or score > best[0]:
                        best = (score, layer)  # type: ignore[assignment]
            if best is not None:
                return best[1]
        return None


def documented_layers(text: str) -> Layers:
    """Layer of each member, from the rows ``| N | name | `member`, ... |`` of the table."""
    members: dict[str, int] = {}
    for match in re.finditer(r"^\|\s*(\d+)\s*\|[^|\n]*\|([^\n]*)\|\s*$", text, re.MULTILINE):
        layer = int(match.group(1))
        for member in re.findall(r"`([^`]+)`", match.group(2)):
            assert member not in members, f"{member} is in two layers of docs/architecture.md"
            members[member] = layer
    assert members, "docs/architecture.md has no layers table (| N | name | `members` |)"
    return Layers(members)


# --- the checks ------------------------------------------------------------------------------


def test_layout_in_architecture_matches_src():
    layout = documented_layout(_architecture())
    missing = sorted(set(MODULES) - set(layout))
    extra = sorted(set(layout) - set(MODULES))

    def line_of(module: str) -> str:
        path = MODULES[module].relative_to(SRC / PACKAGE)
        return f"{path}    <its one-line job>"

    message = []
    if missing:
        message.append(
            "modules in src/ but not in the layout block of docs/architecture.md (add, indented "
            "under their package):\n  " + "\n  ".join(line_of(m) for m in missing)
        )
    if extra:
        message.append(
            "listed in docs/architecture.md but not in src/ (remove):\n  " + "\n  ".join(extra)
        )
    assert not message, "\n".join(message)
    no_job = sorted(module for module, job in layout.items() if not job)
    assert not no_job, f"give these modules a one-line job in docs/architecture.md: {no_job}"


# One job per module (#18): a module that grows past this has taken a second job; split it
# where its data flow splits. The pm4py adapter is the exception: everything that touches
# pm4py (AGPL) stays in that one file on purpose.
MAX_MODULE_LINES = 600
LONG_MODULES_ALLOWED = {"journeymine._pm4py": "pm4py (AGPL) confined to one adapter module"}


def test_modules_have_one_job_and_stay_small():
    too_long = {
        module: n
        for module, path in MODULES.items()
        if module not in LONG_MODULES_ALLOWED
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, (
        f"modules over {MAX_MODULE_LINES} lines (split each where its data flow splits, and "
        f"list the new modules in docs/architecture.md): {too_long}"
    )


def test_layout_parser_reads_nesting():
    text = (
        "```text\nsrc/journeymine/\n    __init__.py    facade\n    a/    pkg\n"
        "        __init__.py    names\n        b.py    job b\n    c.py    job c\n```\n"
    )
    assert documented_layout(text) == {
        "journeymine": "facade",
        "journeymine.a": "names",
        "journeymine.a.b": "job b",
        "journeymine.c": "job c",
    }


def test_every_module_has_a_layer():
    layers = documented_layers(_architecture())
    unplaced = sorted(m for m in MODULES if m != PACKAGE and layers.layer_of(m) is None)
    assert not unplaced, (
        f"modules in no layer of docs/architecture.md (add their package to the table): {unplaced}"
    )
    unknown = sorted(
        member for member in layers.members if "*" not in member and member not in MODULES
    )
    assert not unknown, f"layers table names modules that do not exist: {unknown}"


def test_root_facade_imports_nothing_at_load_time():
    """The root package is outside the layers because it imports no module when loaded."""
    runtime = [_where(imp) for imp in IMPORTS if imp.importer == PACKAGE and imp.kind != "typing"]
    assert not runtime, "journeymine/__init__.py must stay lazy:\n  " + "\n  ".join(runtime)


def test_no_import_up_the_layers():
    layers = documented_layers(_architecture())
    violations = []
    for imp in IMPORTS:
        if PACKAGE in (imp.importer, imp.target):
            continue  # the lazy facade (and `journeymine.__version__`) is outside the layers
        low, high = layers.layer_of(imp.importer), layers.layer_of(imp.target)
        if low is None or high is None:
            continue  # test_every_module_has_a_layer reports these
        if high > low and (imp.importer, imp.target) not in ALLOWED_LAYER_VIOLATIONS:
            violations.append(f"{_where(imp)}: layer {low} -> layer {high}")
    assert not violations, (
        "imports up the layers of docs/architecture.md (depend downwards, or move the code):\n  "
        + "\n  ".join(violations)
    )


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(graph[node])):
                nxt = graph[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def test_cycle_finder():
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _cycles({("a", "b"), ("b", "c")}) == []


def test_no_import_cycle():
    edges = {
        (imp.importer, imp.target)
        for imp in IMPORTS
        if imp.kind != "typing" and PACKAGE not in (imp.importer, imp.target)
    }
    cycles = _cycles(edges - set(ALLOWED_CYCLE_EDGES))
    report = []
    for component in cycles:
        members = set(component)
        inside = [
            _where(imp)
            for imp in IMPORTS
            if imp.importer in members and imp.target in members and imp.kind != "typing"
        ]
        report.append(" <-> ".join(component) + ":\n    " + "\n    ".join(inside))
    assert not report, "import cycles between modules:\n  " + "\n  ".join(report)


def _owner(module: str) -> str:
    """The top-level package a module belongs to (``journeymine`` for root modules)."""
    parts = module.split(".")
    if len(parts) >= 2 and f"{PACKAGE}.{parts[1]}" in MODULES:
        top = f"{PACKAGE}.{parts[1]}"
        if MODULES[top].name == "__init__.py":
            return top
    return PACKAGE


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports_across_packages() -> list[Import]:
    """Imports of an underscore module (or an underscore name) owned by another package."""
    found = []
    for imp in IMPORTS:
        if _owner(imp.importer) == _owner(imp.target):
            continue
        private_module = _is_private_module(imp.target)
        private_name = imp.name is not None and _is_private(imp.name)
        if private_module or private_name:
            found.append(imp)
    return found


def test_no_private_import_across_packages():
    found = private_imports_across_packages()
    new = [
        _where(imp) for imp in found if (imp.importer, imp.target) not in ALLOWED_PRIVATE_IMPORTS
    ]
    assert not new, (
        "underscore imports across packages (import a public name of the package instead):\n  "
        + "\n  ".join(sorted(new))
    )
    # the allowlist only shrinks: an entry no import needs any more is deleted
    seen = {(imp.importer, imp.target) for imp in found}
    stale = sorted(f"{a} -> {b}" for a, b in ALLOWED_PRIVATE_IMPORTS if (a, b) not in seen)
    assert not stale, "delete from ALLOWED_PRIVATE_IMPORTS (no longer imported):\n  " + (
        "\n  ".join(stale)
    )


def _is_private_module(module: str) -> bool:
    return any(_is_private(part) for part in module.split("."))


# --- tests/ -----------------------------------------------------------------------------------


TESTS = ROOT / "tests"


def private_imports_from_tests() -> dict[tuple[str, str], list[int]]:
    """(test file, private module or ``module.name``) -> lines, for every ``.py`` under tests/."""
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
                targets = [t for t in targets if _is_private_module(t)]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                if node.module.split(".")[0] != PACKAGE:
                    continue
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if _is_private_module(node.module):
                        targets.append(node.module)
                    elif _is_private(alias.name):
                        targets.append(full)
            for target in targets:
                found.setdefault((where, target), []).append(node.lineno)
    return found


def test_tests_import_public_names():
    found = private_imports_from_tests()
    new = [
        f"{file}:{lines[0]} imports {target}"
        for (file, target), lines in sorted(found.items())
        if (file, target) not in ALLOWED_TEST_PRIVATE_IMPORTS
    ]
    assert not new, (
        "tests importing private (underscore) modules or names: import the package's public "
        "name (export one if a user needs it too), or, for a unit test of a private helper, "
        "add the pair to ALLOWED_TEST_PRIVATE_IMPORTS with what the test checks:\n  "
        + "\n  ".join(new)
    )
    stale = sorted(f"{f} -> {t}" for f, t in ALLOWED_TEST_PRIVATE_IMPORTS if (f, t) not in found)
    assert not stale, "delete from ALLOWED_TEST_PRIVATE_IMPORTS (no longer imported):\n  " + (
        "\n  ".join(stale)
    )


def test_unit_tests_of_private_helpers_sit_with_their_package():
    # tests/<package>/ for a helper of journeymine.<package>, tests/ itself for a root module
    # (the pm4py adapter): another package's tests reach it through public names only
    outside = []
    for file, target in ALLOWED_TEST_PRIVATE_IMPORTS:
        owner = _owner(target)
        if owner == PACKAGE:
            home = file.count("/") == 1
        else:
            home = file.startswith(f"tests/{owner.split('.')[1]}/")
        if not home:
            outside.append(f"{file} -> {target}")
    assert not outside, (
        "unit tests of a private helper outside their package's tests (move the test, or "
        "import a public name):\n  " + "\n  ".join(outside)
    )


@pytest.mark.parametrize(
    ("importer", "target", "private"),
    [
        ("journeymine.actions._index", "journeymine.personas._frame", True),
        ("journeymine.journeys.change.detect", "journeymine.journeys._common", False),
        ("journeymine.personas.features", "journeymine.journeys", False),
        ("journeymine.cli", "journeymine._pm4py", False),
        ("journeymine.journeys.conformance", "journeymine._pm4py", True),
    ],
)
def test_private_rule(importer, target, private):
    crosses = _owner(importer) != _owner(target) and _is_private_module(target)
    assert crosses is private
