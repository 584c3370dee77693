"""Fixtures for the report tests: small seeded logs and a real headless Chromium.

The browser is Debian's ``chromium`` driven by the ``playwright`` package (never
``playwright install``). Tests that need it skip, with the reason, only when it is absent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import journeymine as jm

CHROMIUM = os.environ.get("JOURNEYMINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"


@pytest.fixture(scope="session")
def small_log() -> pd.DataFrame:
    """About 1,000 customers over 60 days (~25k events)."""
    return jm.validate(jm.datasets.make_journeys(n_customers=1000, days=60, random_state=3).events)


@dataclass
class PageReport:
    """What a real browser saw when it opened a report."""

    n_plots: int
    plots_with_svg: int
    console_errors: list[str]
    page_errors: list[str]
    requests: list[str]
    dialogs: list[str]
    svg_texts: list[str]
    body_text: str
    screenshot: Path
    extra: dict[str, Any] = field(default_factory=dict)


class Browser:
    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def open(self, path: Path, name: str, probe: str | None = None) -> PageReport:
        """Open ``path``, wait for every figure, screenshot it; ``probe`` is a JavaScript
        function evaluated in the page at the end (its result goes to ``extra["probe"]``)."""
        page = self._browser.new_page(viewport={"width": 1280, "height": 900})
        console: list[str] = []
        errors: list[str] = []
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))

        def on_dialog(d: Any) -> None:
            dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        url = path.resolve().as_uri()
        page.goto(url, wait_until="load")
        n = page.evaluate("document.querySelectorAll('.jm-figure').length")
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
            arg=n,
            timeout=20_000,
        )
        page.wait_for_timeout(300)
        info = page.evaluate(
            """() => ({
                plots: document.querySelectorAll('.js-plotly-plot').length,
                withSvg: Array.from(document.querySelectorAll('.js-plotly-plot'))
                    .filter(p => p.querySelector('.main-svg')).length,
                texts: Array.from(document.querySelectorAll('svg text'))
                    .map(t => t.textContent),
                body: document.body.innerText,
            })"""
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        own_console, own_errors = list(console), list(errors)  # the report's own messages
        extra = {"probe": page.evaluate(probe)} if probe else {}
        page.close()
        return PageReport(
            n_plots=info["plots"],
            plots_with_svg=info["withSvg"],
            console_errors=own_console,
            page_errors=own_errors,
            requests=[r for r in requests if r != url],
            dialogs=dialogs,
            svg_texts=info["texts"],
            body_text=info["body"],
            screenshot=shot,
            extra=extra,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package "
            f"(make chromium) to run the browser tests of the HTML reports."
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    exe = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield Browser(b)
        finally:
            b.close()
