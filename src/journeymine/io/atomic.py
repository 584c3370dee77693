"""Atomic file writes: every file journeymine writes appears whole or not at all.

A writer gets a temporary path in the destination's folder; when it returns, the temporary file
replaces the destination in one ``os.replace`` (atomic on POSIX and Windows within one file
system). When the writer fails, the temporary file is removed and the destination is untouched,
so an interrupted or failed command never leaves a half-written CSV, Parquet, HTML or JSON file
behind, and never destroys the previous version of the file.

A destination that is a symbolic link is written through: the link's target is replaced, the
link stays.

Examples
--------
>>> import pathlib, tempfile
>>> import pandas as pd
>>> out = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
>>> with atomic_path(out) as tmp:
...     pd.DataFrame({"a": [1, 2]}).to_csv(tmp, index=False)
>>> out.read_text()
'a\\n1\\n2\\n'
>>> _ = write_text(out, "replaced\\n")
>>> out.read_text()
'replaced\\n'
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "temporary_name", "write_bytes", "write_text"]

_PREFIX = ".jm-tmp-"


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """A fresh, hidden temporary name next to ``path`` that keeps its suffixes.

    The name ends with the destination's file name, so writers that infer the format or the
    compression from the suffix (``.csv.gz``, ``.parquet``) behave as for ``path`` itself.

    Parameters
    ----------
    path : str or path-like
        The destination.

    Returns
    -------
    Path
        ``<folder>/.jm-tmp-<random>-<name>``, not yet created.
    """
    p = Path(path)
    return p.with_name(f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{p.name}")


def _destination(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The destination file. Its folder must exist (it is not created).

    Yields
    ------
    Path
        A path in the same folder, not yet created; write the whole file there.

    Raises
    ------
    FileNotFoundError
        The writer did not create the temporary file.

    Notes
    -----
    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and the
    exception propagates; ``path`` is left as it was.
    """
    dest = _destination(path)
    tmp = temporary_name(dest)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer of {dest} created no file.")
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, flush, fsync, rename).

    Parameters
    ----------
    path : str or path-like
        The destination file; its folder must exist.
    data : bytes
        The whole content.

    Returns
    -------
    Path
        ``path``, as a :class:`~pathlib.Path`.

    Examples
    --------
    >>> import tempfile
    >>> from journeymine.io.atomic import write_bytes
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_bytes(f"{d}/model.bin", b"weights").stat().st_size
    7
    """
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically: encoded, then written as :func:`write_bytes` does.

    A reader sees the old file or the new one, never a half-written one.

    Parameters
    ----------
    path : str or path-like
        The destination file; its folder must exist. An existing file is replaced whole.
    text : str
        The whole content, encoded with ``encoding``.
    encoding : str, default "utf-8"
        How ``text`` becomes bytes.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from journeymine.io.atomic import write_text
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "report.txt").write_text("old and longer")
    ...     write_text(Path(d) / "report.txt", "new").read_text()
    'new'
    """
    return write_bytes(path, text.encode(encoding))
