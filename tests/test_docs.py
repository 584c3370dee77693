"""The documentation site builds with warnings as errors (``make docs``).

Needs the ``docs`` extra (mkdocs-material, mkdocstrings[python]), which ``make test`` installs;
skipped where it is missing. The build reads the sources statically (nothing is imported) and
takes a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("mkdocs_jupyter")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    )
    assert elapsed < 60, f"the docs build took {elapsed:.0f} s (keep it under 60 s)"
    site = tmp_path / "site"
    pages = ["index.html", "architecture/index.html", "api/personas/index.html"]
    pages += [f"notebooks/{nb.stem}/index.html" for nb in (ROOT / "notebooks").glob("*.ipynb")]
    for page in pages:
        assert (site / page).is_file(), f"{page} missing from the built site"
    # the API reference is generated from the docstrings, not empty pages
    assert "journeymine.personas.PersonaMiner" in (site / "api/personas/index.html").read_text()


# --- every public name on a page with a runnable example ------------------------------------------

# The packages with an API page (docs/api/<page>.md renders ``::: <package>``).
API_PAGES = {
    "journeymine.schema": "schema",
    "journeymine.exceptions": "exceptions",
    "journeymine.compat": "compat",
    "journeymine.io": "io",
    "journeymine.engine": "engine",
    "journeymine.journeys": "journeys",
    "journeymine.journeys.conformance": "conformance",
    "journeymine.journeys.change": "change",
    "journeymine.features": "features",
    "journeymine.personas": "personas",
    "journeymine.assignment": "assignment",
    "journeymine.service": "service",
    "journeymine.actions": "actions",
    "journeymine.nextstep": "nextstep",
    "journeymine.report": "report",
    "journeymine.datasets": "datasets",
    "journeymine.scale": "scale",
}

# Public names whose page shows no example using them yet, as (package, name): none today. The
# list is the exact current one: a new public name without an example fails (give it an
# Examples section rather than listing it here), and so does a name listed here that has got
# one (remove it). Exceptions and warnings are exempt (their use is a raise), and so are
# constants and type aliases (their docstring is their entry on the page).
KNOWN_WITHOUT_EXAMPLE: set[tuple[str, str]] = set()


def _examples(doc: str | None) -> str:
    """The source of the ``>>>`` / ``...`` lines of a docstring."""
    lines = (doc or "").splitlines()
    return "\n".join(
        line.strip()[4:] for line in lines if line.strip().startswith((">>> ", "... "))
    )


def _public_names() -> dict[str, list[str]]:
    import importlib

    out = {}
    for package in API_PAGES:
        module = importlib.import_module(package)
        out[package] = list(getattr(module, "__all__", []))
    return out


def _name_used(name: str, source: str) -> bool:
    import re

    return re.search(rf"(?<!\w){re.escape(name)}\b", source) is not None


def test_every_public_name_has_a_page_with_a_runnable_example() -> None:
    import importlib
    import inspect
    import types

    missing_page, missing_example = [], []
    pages = {p.stem for p in (ROOT / "docs" / "api").glob("*.md")}
    for package, names in _public_names().items():
        page = API_PAGES[package]
        if (
            page not in pages
            or f"::: {package}" not in (ROOT / "docs" / "api" / f"{page}.md").read_text()
        ):
            missing_page.append(package)
        module = importlib.import_module(package)
        # the examples a reader of the page sees: the package's and each public object's
        source = [_examples(module.__doc__)]
        for name in names:
            obj = getattr(module, name)
            if callable(obj) or inspect.ismodule(obj):
                source.append(_examples(obj.__doc__))
            if inspect.isclass(obj):
                methods = inspect.getmembers(obj, callable)
                source.extend(_examples(m.__doc__) for _, m in methods)
        examples = "\n".join(source)
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException | Warning):
                continue
            if not callable(obj) or isinstance(obj, types.UnionType | types.GenericAlias):
                continue  # a constant, a type alias or a module: documented by its docstring
            if _examples(obj.__doc__) or _name_used(name, examples):
                continue
            missing_example.append((package, name))
    assert not missing_page, f"packages without an API page rendering them: {missing_page}"
    new = sorted(set(missing_example) - KNOWN_WITHOUT_EXAMPLE)
    assert not new, (
        "public names without a runnable example on their page (add an Examples section to "
        "the docstring):\n  " + "\n  ".join(f"{p}.{n}" for p, n in new)
    )
    fixed = sorted(KNOWN_WITHOUT_EXAMPLE - set(missing_example))
    assert not fixed, f"these have an example now; remove them from KNOWN_WITHOUT_EXAMPLE: {fixed}"
