"""Static export of figures (PNG, SVG, PDF) for slides, with kaleido and a local Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

import plotly.graph_objects as go

from journeymine.exceptions import ConfigError
from journeymine.io.atomic import write_bytes

__all__ = ["find_browser", "save_figure"]

ImageFormat = Literal["png", "svg", "pdf", "jpeg", "webp"]
_FORMATS = ("png", "svg", "pdf", "jpeg", "webp")
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido will drive: ``$BROWSER_PATH`` (the variable kaleido's
    choreographer reads), else Debian's ``/usr/bin/chromium``, else the first Chrome on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def save_figure(
    fig: go.Figure,
    path: str | Path,
    *,
    format: ImageFormat | None = None,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
) -> Path:
    """Export a figure to a static image for slides (PNG, SVG, PDF, JPEG or WebP).

    Uses kaleido (``pip install 'journeymine[report]'``) with a locally installed Chrome or
    Chromium (``$BROWSER_PATH``, else ``/usr/bin/chromium``); MathJax is disabled and plotly.js
    comes from the installed plotly package, so nothing is downloaded.

    Parameters
    ----------
    fig : plotly Figure
    path : str or Path
        Output file; the format is taken from its suffix unless ``format`` is given.
    format : {"png", "svg", "pdf", "jpeg", "webp"}, optional
    width, height : int, optional
        Size in CSS pixels (default: the figure's own size, else 1100 x 600).
    scale : float, default 2.0
        Pixel density for raster formats (2 = sharp on slides).

    Returns
    -------
    Path

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> save_figure(go.Figure(), "out.gif")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: cannot export to 'gif'; use one of png, svg, pdf, ...
    """
    out = Path(path)
    fmt = (format or out.suffix.lstrip(".")).lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in _FORMATS:
        raise ConfigError(
            f"cannot export to {fmt or '(no suffix)'!r}; use one of {', '.join(_FORMATS)} "
            f"(give the file a suffix such as .png or pass format=)."
        )
    if not isinstance(fig, go.Figure):
        raise ConfigError(f"fig must be a plotly go.Figure, got {type(fig).__name__}.")
    if not scale > 0:
        raise ConfigError(f"scale={scale!r} must be positive.")
    try:
        import kaleido
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("save_figure needs kaleido: pip install 'journeymine[report]'") from exc
    browser = find_browser()
    if browser is None or not os.access(browser, os.X_OK):
        raise ConfigError(
            f"no Chrome/Chromium found for the static export (looked at $BROWSER_PATH, "
            f"/usr/bin/chromium and PATH; got {browser!r}). Install one (Debian: apt-get "
            f"install chromium) or set BROWSER_PATH to its executable."
        )
    spec = fig.to_dict()
    layout = spec.get("layout", {})
    opts = {
        "format": fmt,
        "width": int(width or layout.get("width") or 1100),
        "height": int(height or layout.get("height") or 600),
        "scale": float(scale),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    data = kaleido.calc_fig_sync(spec, opts=opts, kopts={"mathjax": False, "path": browser})
    write_bytes(out, data)  # atomic
    return out
