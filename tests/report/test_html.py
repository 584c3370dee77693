"""write_html: one self-contained file, plotly.js embedded once, escaping, no external refs."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

import journeymine as jm
from journeymine.report import Section, write_html
from journeymine.report.html import embed_json


def _figs() -> list[go.Figure]:
    return [
        go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": {"text": "</script><!--"}}),
        go.Figure(go.Scatter(x=[1, 2], y=[3, 4])),
    ]


def test_plotly_embedded_once_and_no_external_reference(tmp_path: Path) -> None:
    out = write_html(tmp_path / "r.html", "Report", [Section("S", _figs())], ["x"])
    html = out.read_text(encoding="utf-8")
    marker = get_plotlyjs()[:200]
    assert html.count(marker) == 1
    assert html.count("data-figure=") == 2
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", html, re.I)
    assert "cdn.plot.ly" not in html.split(marker)[0]
    assert "MathJax.js" not in html and "fonts.googleapis" not in html
    head = htmllib.unescape(html.split(marker)[0])
    assert 'http-equiv="Content-Security-Policy"' in head and "default-src 'none'" in head


def test_embedded_json_cannot_close_the_script(tmp_path: Path) -> None:
    out = write_html(tmp_path / "r.html", "Report", [Section("S", _figs())])
    html = out.read_text(encoding="utf-8")
    blocks = re.findall(
        r'<script type="application/json" data-figure="[^"]+">(.*?)</script>', html, re.S
    )
    assert len(blocks) == 2
    for b in blocks:
        assert "<" not in b and ">" not in b
    assert embed_json('{"t": "</script>"}') == '{"t": "\\u003c/script\\u003e"}'


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    table = pd.DataFrame({"activity": [evil], "n": [12]})
    out = write_html(
        tmp_path / "r.html",
        f"T {evil}",
        [Section(f"S {evil}", _figs(), text=evil, table=table, notes=[evil])],
        [evil],
        subtitle=evil,
    )
    html = out.read_text(encoding="utf-8")
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7
    body = html.split("</head>", 1)[1]
    assert evil not in body


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(jm.ConfigError, match="title"):
        write_html(tmp_path / "r.html", " ", [])
    with pytest.raises(jm.ConfigError, match="Section"):
        write_html(tmp_path / "r.html", "T", [go.Figure()])  # type: ignore[list-item]
    with pytest.raises(jm.ConfigError, match=r"go\.Figure"):
        write_html(tmp_path / "r.html", "T", [Section("S", [{"data": []}])])  # type: ignore[list-item]
