"""Shared fixtures. ``eventlogs_dir``: the real public event logs (../shared/data/eventlogs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_EVENTLOGS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eventlogs"


@pytest.fixture(scope="session")
def eventlogs_dir() -> Path:
    """Folder of the public event logs; tests using it skip when it is absent."""
    path = Path(os.environ.get("JOURNEYMINE_EVENTLOGS", _DEFAULT_EVENTLOGS))
    if not path.is_dir():
        pytest.skip(
            f"public event logs not found at {path}; set JOURNEYMINE_EVENTLOGS to the folder "
            f"holding bpic2012.xes.gz etc."
        )
    return path
