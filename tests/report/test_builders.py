"""Report builders: sections, computed findings and argument checks (HTML content only; the
browser tests open them)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm


def _findings(html: str) -> list[str]:
    block = html.split('id="summary"', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", block, re.S)]


def test_journey_report_findings_are_computed(small_log: pd.DataFrame, tmp_path: Path) -> None:
    out = jm.journey_report(
        small_log, tmp_path / "j.html", funnel_steps=["view_product", "add_to_cart"]
    )
    html = out.read_text(encoding="utf-8")
    found = _findings(html)
    n = small_log["customer_id"].nunique()
    assert found[0].startswith(f"{n:,} customers and {len(small_log):,} events")
    fun = jm.funnel(small_log, ["view_product", "add_to_cart"])
    share = fun["conversion"].iloc[1]
    expected = f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.1f}%"
    assert any(
        f.startswith(f"{expected} of customers who view_product go on to add_to_cart")
        for f in found
    )
    top = jm.dfg(small_log).iloc[0]
    assert any(
        f"most frequent step is {top['source']} → {top['target']} ({int(top['count']):,} times" in f
        for f in found
    )
    assert html.count("data-figure=") == 5


def test_journey_report_per_persona(small_log: pd.DataFrame, tmp_path: Path) -> None:
    ids = small_log["customer_id"].unique()
    labels = pd.Series([i % 3 for i in range(len(ids))], index=ids)
    labels.iloc[:20] = -1
    out = jm.journey_report(
        small_log,
        tmp_path / "p.html",
        personas=labels,
        persona_names={0: "Zeroes", 1: "Ones", 2: "Twos"},
    )
    html = out.read_text(encoding="utf-8")
    assert html.count("data-figure=") == 5 + 1 + 3
    for name in ("0: Zeroes", "1: Ones", "2: Twos"):
        assert f"Process map: {name}" in html
    with pytest.raises(jm.ConfigError, match="none of the log's customers"):
        jm.journey_report(small_log, tmp_path / "x.html", personas=pd.Series({"nobody": 1}))


def test_builders_reject_bad_arguments(small_log: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(jm.ConfigError, match="k=0"):
        jm.journey_report(small_log, tmp_path / "x.html", k=0)
    with pytest.raises(jm.UnknownActivityError):
        jm.journey_report(small_log, tmp_path / "x.html", funnel_steps=["visit", "chekout"])
    with pytest.raises(jm.ConfigError, match="needs a log"):
        jm.change_report(None, tmp_path / "x.html")
    with pytest.raises(jm.ConfigError, match="one or the other"):
        jm.change_report(small_log, tmp_path / "x.html", changes=pd.DataFrame(), freq="D")
    assert not (tmp_path / "x.html").exists()
