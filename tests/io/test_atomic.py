"""Atomic writes: a failed writer leaves the destination as it was and no temporary file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from journeymine.io.atomic import atomic_path, temporary_name, write_bytes, write_text


def test_write_replaces_whole_file(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    write_text(out, "first")
    assert write_bytes(out, b"second") == out
    assert out.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(out) as tmp:
        tmp.write_text("half a fi")
        raise RuntimeError("disk full")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="created no file"), atomic_path(tmp_path / "x"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_temporary_name_keeps_suffixes_for_format_inference(tmp_path: Path) -> None:
    out = tmp_path / "t.csv.gz"
    assert temporary_name(out).name.endswith("-t.csv.gz")
    assert temporary_name(out).parent == tmp_path
    with atomic_path(out) as tmp:
        pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)  # compression inferred from .gz
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert pd.read_csv(out)["a"].tolist() == [1]


def test_symlink_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    os.symlink(target, link)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
