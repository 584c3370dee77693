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
