"""One writer for self-contained HTML reports.

:func:`write_html` writes ONE file that opens offline: plotly.js (from the installed plotly
package) is embedded exactly once, each figure is embedded as JSON and drawn by
``Plotly.newPlot``; there is no CDN, web font or MathJax, and a Content-Security-Policy forbids
any network request and any script other than our two (pinned by their SHA-256 hashes).

Every user-supplied string is escaped: the page is rendered by a Jinja2 template with
autoescaping on, and figure JSON is embedded with ``<``, ``>``, ``&`` and the JavaScript line
separators written as ``\\u003c``-style escapes, so no ``</script>`` or ``<!--`` can appear in it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined

import journeymine
from journeymine.exceptions import ConfigError
from journeymine.io.atomic import write_text

__all__ = ["Section", "embed_json", "write_html"]

_BOOT_JS = """
(function () {
  var config = {responsive: true, displaylogo: false, typesetMath: false,
                modeBarButtonsToRemove: ["select2d", "lasso2d", "sendDataToCloud"],
                toImageButtonOptions: {format: "png", scale: 2}};
  var specs = document.querySelectorAll("script[type='application/json'][data-figure]");
  for (var i = 0; i < specs.length; i++) {
    var spec = JSON.parse(specs[i].textContent);
    var el = document.getElementById(specs[i].getAttribute("data-figure"));
    Plotly.newPlot(el, spec.data, spec.layout, config);
  }
})();
""".strip()


@dataclass
class Section:
    """A part of a report: a heading, a short text, figures, an optional table and notes.

    Parameters
    ----------
    title : str
        Heading of the section.
    figures : sequence of plotly Figure
        Drawn in order, full width.
    text : str
        A paragraph under the heading (plain text; escaped).
    table : DataFrame, optional
        Rendered as an HTML table (values escaped).
    notes : sequence of str
        Small print under the figures, e.g. how many rows the privacy threshold hid.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from journeymine.report import Section, write_html
    >>> section = Section("Journeys", text="How customers move.", notes=["k = 10"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_html(pathlib.Path(folder) / "one.html", "Report", [section])
    ...     "How customers move." in path.read_text(encoding="utf-8")
    True
    """

    title: str
    figures: Sequence[go.Figure] = field(default_factory=list)
    text: str = ""
    table: pd.DataFrame | None = None
    notes: Sequence[str] = field(default_factory=list)


def embed_json(obj: object) -> str:
    """JSON safe to place inside ``<script type="application/json">``.

    Examples
    --------
    >>> embed_json({"a": "</script><!-- & \\u2028"})
    '{"a": "\\\\u003c/script\\\\u003e\\\\u003c!-- \\\\u0026 \\\\u2028"}'
    """
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # a literal "</script" inside the library would end the script element early
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


@lru_cache(maxsize=1)
def _env() -> Environment:
    # autoescape=True explicitly: the template is named *.html.j2, which select_autoescape's
    # extension check would not recognise
    return Environment(
        loader=PackageLoader("journeymine.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _table_rows(frame: pd.DataFrame, max_rows: int = 200) -> dict[str, object]:
    shown = frame.head(max_rows)
    cols = [str(c) for c in shown.columns]
    rows = []
    for rec in shown.itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, float):
                cells.append(f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}")
            elif isinstance(v, pd.Timestamp):
                cells.append(v.strftime("%Y-%m-%d %H:%M"))
            else:
                cells.append("" if v is None else str(v))
        rows.append(cells)
    return {"columns": cols, "rows": rows, "more": max(len(frame) - max_rows, 0)}


def write_html(
    path: str | Path,
    title: str,
    sections: Sequence[Section],
    summary: str | Sequence[str] = (),
    *,
    subtitle: str = "",
) -> Path:
    """Write a self-contained HTML report and return its path.

    Parameters
    ----------
    path : str or Path
        Output file (``.html``); parent folders are created.
    title : str
        Page title and main heading.
    sections : sequence of Section
        The report body, in order.
    summary : str or sequence of str
        Key findings shown at the top, one bullet each.
    subtitle : str
        A line under the title (e.g. the data the report was made from).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, plotly.graph_objects as go
    >>> from journeymine.report.html import Section, write_html
    >>> fig = go.Figure(go.Bar(x=["<b>a</b>"], y=[1]))
    >>> out = write_html(tempfile.mkdtemp() + "/r.html", "Demo <report>",
    ...                  [Section("Bars", [fig])], ["one finding"])
    >>> html = out.read_text(encoding="utf-8")
    >>> html.count("Plotly.newPlot"), "Demo &lt;report&gt;" in html, "<b>a</b>" in html
    (1, True, False)
    """
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("title must be a non-empty string.")
    if isinstance(sections, Section):
        sections = [sections]
    for s in sections:
        if not isinstance(s, Section):
            raise ConfigError(
                f"sections must be Section objects (journeymine.report.Section), got "
                f"{type(s).__name__}."
            )
        for f in s.figures:
            if not isinstance(f, go.Figure):
                raise ConfigError(
                    f"section {s.title!r} holds a {type(f).__name__}; figures must be plotly "
                    f"go.Figure objects."
                )
    bullets = [summary] if isinstance(summary, str) else list(summary)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)

    figures = []
    body = []
    n = 0
    for si, s in enumerate(sections):
        figs = []
        for f in s.figures:
            n += 1
            div = f"jm-fig-{n}"
            figs.append({"id": div, "json": embed_json(f.to_json())})
            figures.append(div)
        body.append(
            {
                "id": f"section-{si + 1}",
                "title": s.title,
                "text": s.text,
                "figures": figs,
                "table": _table_rows(s.table)
                if s.table is not None and len(s.table.columns)
                else None,
                "notes": list(s.notes),
            }
        )
    plotly_js = _plotly_js()
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{_sha256(plotly_js)}' 'sha256-{_sha256(_BOOT_JS)}'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            title=title,
            subtitle=subtitle,
            summary=bullets,
            sections=body,
            plotly_js=plotly_js,
            boot_js=_BOOT_JS,
            csp=csp,
            n_figures=n,
            generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=journeymine.__version__,
        )
    )
    write_text(out, html)  # atomic: a failed write never leaves half a report
    return out
