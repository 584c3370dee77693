"""Check every output path of a ``jm`` command before the command does any work.

A command declares its outputs (:class:`Output`) and inputs; :func:`check_outputs` refuses, with
one message naming the CLI option and the fix:

- an output that is, or is a hard or symbolic link to, an input file (writing would destroy
  the input), or two outputs that are the same file;
- a folder where a file is expected, or a file where a folder is expected (also a file inside
  an output folder that already exists as a folder);
- a file output whose folder does not exist (file outputs never create folders: a typo in a
  path should not create a tree), or a folder output under a path that has a file in it;
- a destination folder that is not writable.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "events.csv").write_text("customer_id,timestamp,activity\\n")
>>> check_outputs([Output("--out", d / "events.csv")], {"the event file": d / "events.csv"})
Traceback (most recent call last):
...
journeymine.exceptions.ConfigError: --out points at the input file events.csv (the event file)...
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from journeymine.exceptions import ConfigError

__all__ = ["Output", "check_memory", "check_outputs"]

_BYTES_PER_CUSTOMER_DAY = 0.3 * 300  # ~0.3 events per customer and day, ~300 bytes each


@dataclass(frozen=True)
class Output:
    """One output of a command.

    Parameters
    ----------
    option : str
        The CLI option or argument that names it, e.g. ``"--out"``; used in messages.
    path : Path or None
        The path given; ``None`` when the option was not used (nothing is checked).
    folder : bool, default False
        The output is a folder the command writes files into (created, with its parents, when
        missing); otherwise a file whose folder must exist.
    inside : tuple of str, default ()
        For a folder: the names of the files the command writes into it.
    also : tuple of Path, default ()
        For a file: other files written with it (e.g. the JSON card next to a model).
    example : str, default "output.csv"
        For a file: a file name suggested when a folder is given instead.
    """

    option: str
    path: Path | None
    folder: bool = False
    inside: tuple[str, ...] = ()
    also: tuple[Path, ...] = ()
    example: str = "output.csv"

    def files(self) -> list[Path]:
        """Every file this output writes."""
        assert self.path is not None
        if self.folder:
            return [self.path / name for name in self.inside]
        return [self.path, *self.also]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # same inode: the path itself, a hard link, a symlink
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _nearest_existing(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_folder(option: str, shown: Path, folder: Path, *, create: bool) -> None:
    """``folder`` is where files go: it must be (or become) a writable folder."""
    if folder.exists():
        if not folder.is_dir():
            raise ConfigError(
                f"{option} {shown}: {folder} is a file, not a folder; choose a path in a folder."
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{option} {shown}: the folder {folder} is not writable; choose a folder you can "
                f"write to."
            )
        return
    ancestor = _nearest_existing(folder)
    if not ancestor.is_dir():
        raise ConfigError(
            f"{option} {shown}: {ancestor} is a file, not a folder; choose a path in a folder."
        )
    if not create:
        raise ConfigError(
            f"{option} {shown}: the folder {folder} does not exist; create it first "
            f"(mkdir -p {folder}) or choose another path."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{option} {shown}: cannot create {folder}, the folder {ancestor} is not writable; "
            f"choose a folder you can write to."
        )


def _check_one(out: Output, made: Sequence[Path] = ()) -> None:
    """``made``: the folders the command creates (its folder outputs) before writing files."""
    assert out.path is not None
    path = out.path
    parent = Path(os.path.abspath(path.parent))
    inside_made = any(parent == m or m in parent.parents for m in made)
    if out.folder or inside_made:
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"{out.option} {path} is a file, but a folder is expected (the command writes "
                f"{', '.join(out.inside) or 'its files'} into it); choose a folder path."
            )
        _check_folder(out.option, path, path if out.folder else path.parent, create=True)
    else:
        _check_folder(out.option, path, path.parent, create=False)
    for file in out.files():
        if not file.is_dir():
            continue
        if file == path:
            raise ConfigError(
                f"{out.option} {path} is a folder, but a file is expected; give a file path, "
                f"e.g. {path / out.example}."
            )
        raise ConfigError(
            f"{out.option} {path}: {file} is a folder, but the command writes a file there; "
            f"remove or rename that folder, or choose another path."
        )


def check_outputs(
    outputs: Sequence[Output], inputs: Mapping[str, Path | None] | None = None
) -> None:
    """Refuse output paths the command could not write, or should not, before any work.

    Parameters
    ----------
    outputs : sequence of Output
        Every output of the command (``path=None`` ones are skipped). A file output inside a
        folder output of the same command may be in a folder that does not exist yet: the
        command must create its folder outputs before it writes its files.
    inputs : mapping of str to Path, optional
        What names each input in messages (e.g. ``"the event file"``, ``"--labels"``) -> its
        path; missing input files are skipped (their readers report them).

    Raises
    ------
    ConfigError
        The first problem found, naming the option and the fix.
    """
    given = [o for o in outputs if o.path is not None]
    # a file may go into a folder output of the same command (e.g. --report p/r.html with
    # --out p): the command creates its folder outputs before it writes files
    made = [Path(os.path.abspath(o.path)) for o in given if o.folder and o.path is not None]
    existing_inputs = [
        (name, Path(p)) for name, p in (inputs or {}).items() if p is not None and Path(p).exists()
    ]
    for out in given:
        _check_one(out, made)
        for file in out.files():
            if not file.exists():
                continue
            for name, inp in existing_inputs:
                if inp.is_file() and _same_file(file, inp):
                    raise ConfigError(
                        f"{out.option} points at the input file {inp.name} ({name}): writing "
                        f"{file} would overwrite it; choose another path."
                    )
    seen: dict[str, str] = {}
    for out in given:
        for file in out.files():
            key = os.path.realpath(file)
            if key in seen and seen[key] != out.option:
                raise ConfigError(
                    f"{seen[key]} and {out.option} both write {file}; give each its own path."
                )
            seen.setdefault(key, out.option)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(customers: int, days: int) -> None:
    """Refuse, before any work, a synthetic data set that cannot fit in this machine's memory.

    Parameters
    ----------
    customers, days : int
        ``jm generate --customers --days``.

    Raises
    ------
    ConfigError
        With the largest ``--customers`` that fits.
    """
    available = _available_memory()
    if available is None:
        return
    need = customers * days * _BYTES_PER_CUSTOMER_DAY
    if need > available:
        most = max(int(available // (days * _BYTES_PER_CUSTOMER_DAY)), 1)
        raise ConfigError(
            f"--customers {customers:,} over --days {days:,} would need about {need / 1e9:,.0f} "
            f"GB of memory and this machine has {available / 1e9:,.1f} GB available; use "
            f"--customers {most:,} or fewer (or fewer --days)."
        )
