"""Save and load generated data sets; locate the shipped sample and the reference event logs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from journeymine.datasets._generator import SyntheticJourneys
from journeymine.exceptions import ConfigError
from journeymine.io.atomic import atomic_path, write_text

__all__ = [
    "eventlogs_dir",
    "load_sample",
    "sample_dir",
    "sample_policy",
    "sample_policy_path",
    "save_journeys",
    "saved_files",
]

_TABLES = ("customers", "personas", "touches", "incidents", "persona_designs")
_REPO = Path(__file__).resolve().parents[3]


def sample_dir() -> Path:
    """Folder of the shipped sample: ``$JOURNEYMINE_SAMPLE`` or ``<repo>/data/sample``.

    Examples
    --------
    >>> from journeymine.datasets import load_sample
    >>> folder = sample_dir()
    >>> (folder / "events.parquet").is_file()
    True
    >>> load_sample(folder).events.columns.tolist()[:3]
    ['customer_id', 'timestamp', 'activity']
    """
    env = os.environ.get("JOURNEYMINE_SAMPLE")
    if env:
        return Path(env)
    for candidate in (_REPO / "data" / "sample", Path.cwd() / "data" / "sample"):
        if (candidate / "events.parquet").exists():
            return candidate
    return _REPO / "data" / "sample"


def eventlogs_dir() -> Path:
    """Folder of the public reference logs: ``$JOURNEYMINE_EVENTLOGS`` or
    ``<repo>/../shared/data/eventlogs``. It may not exist: callers check.

    Examples
    --------
    The environment variable names the folder (here one that need not exist):

    >>> import os
    >>> from pathlib import Path
    >>> saved = os.environ.get("JOURNEYMINE_EVENTLOGS")
    >>> os.environ["JOURNEYMINE_EVENTLOGS"] = str(Path("logs", "eventlogs"))
    >>> eventlogs_dir() == Path("logs", "eventlogs")
    True
    >>> logs = sorted(eventlogs_dir().glob("*.parquet"))  # empty where the folder is absent
    >>> del os.environ["JOURNEYMINE_EVENTLOGS"]
    >>> if saved is not None:
    ...     os.environ["JOURNEYMINE_EVENTLOGS"] = saved
    """
    env = os.environ.get("JOURNEYMINE_EVENTLOGS")
    return Path(env) if env else _REPO.parent / "shared" / "data" / "eventlogs"


def saved_files(csv_rows: int = 0) -> tuple[str, ...]:
    """Names of the files :func:`save_journeys` writes into its folder.

    Parameters
    ----------
    csv_rows : int, default 0
        As for :func:`save_journeys` (``events_small.csv`` only when positive).

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> saved_files()[:2]
    ('events.parquet', 'customers.parquet')
    """
    small = ("events_small.csv",) if csv_rows else ()
    tables = tuple(f"{name}.parquet" for name in _TABLES)
    return ("events.parquet", *tables, *small, "response.csv", "journeys.json", "params.json")


def save_journeys(data: SyntheticJourneys, directory: str | Path, *, csv_rows: int = 0) -> Path:
    """Write events (Parquet, plus the first ``csv_rows`` rows as CSV) and every ground-truth
    table to ``directory``; returns the folder.

    Examples
    --------
    >>> import tempfile
    >>> from journeymine.datasets import make_journeys, load_sample
    >>> data = make_journeys(n_customers=50, days=30, random_state=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_journeys(data, d, csv_rows=10)
    ...     back = load_sample(d)
    >>> back.events.equals(data.events)
    True
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    # every file is written atomically: an interrupted run never leaves half a table
    with atomic_path(out / "events.parquet") as tmp:
        data.events.to_parquet(tmp, index=False)
    if csv_rows:
        with atomic_path(out / "events_small.csv") as tmp:
            data.events.head(csv_rows).to_csv(tmp, index=False)
    for name in _TABLES:
        with atomic_path(out / f"{name}.parquet") as tmp:
            getattr(data, name).to_parquet(tmp, index=False)
    with atomic_path(out / "response.csv") as tmp:
        data.response.to_csv(tmp)
    write_text(out / "journeys.json", json.dumps(data.journeys.to_dict(orient="records"), indent=2))
    write_text(out / "params.json", json.dumps(data.params, indent=2, default=str))
    return out


def load_sample(directory: str | Path | None = None) -> SyntheticJourneys:
    """Load a data set written by :func:`save_journeys` (default: the shipped sample).

    Raises
    ------
    FileNotFoundError
        The folder has no ``events.parquet``; the message says how to create it.
    """
    d = Path(directory) if directory is not None else sample_dir()
    if not (d / "events.parquet").exists():
        raise FileNotFoundError(
            f"no events.parquet in {d}. Generate one with `jm generate {d}` or pass the folder "
            f"of a data set written by journeymine.datasets.save_journeys."
        )
    events = pd.read_parquet(d / "events.parquet")
    tables = {}
    for name in _TABLES:
        path = d / f"{name}.parquet"
        if not path.exists():
            raise ConfigError(
                f"{d} has events but no {path.name}: it is not a complete data "
                f"set written by save_journeys. Read the events with "
                f"jm.read_events instead."
            )
        tables[name] = pd.read_parquet(path)
    response = pd.read_csv(d / "response.csv", index_col="persona")
    response.columns.name = "journey_id"
    journeys = pd.DataFrame(json.loads((d / "journeys.json").read_text()))
    params = json.loads((d / "params.json").read_text())
    return SyntheticJourneys(
        events=events, response=response, journeys=journeys, params=params, **tables
    )


def sample_policy_path(reachable: bool = False) -> Path:
    """The orchestration policy written for the synthetic retailer (a YAML file shipped with
    the package): a starting point to copy and edit.

    ``reachable=True``: the same policy with consent gates (``policy_reachable.yaml``): a push
    needs ``has_app`` and ``push_opt_in``, an email ``email_opt_in``, read from the customer
    attribute table (``customers.parquet`` of ``jm generate``; ``jm nba --attributes``).

    Examples
    --------
    >>> from journeymine.actions import Policy
    >>> path = sample_policy_path()
    >>> path.name
    'policy.yaml'
    >>> [j.name for j in Policy.from_file(path).journeys]
    ['cart_abandonment', 'post_purchase_tips', 'flash_sale', 'win_back', 'welcome']
    >>> sample_policy_path(reachable=True).name
    'policy_reachable.yaml'
    """
    if not isinstance(reachable, bool):
        raise ConfigError(f"reachable must be True or False, got {reachable!r}.")
    return Path(__file__).with_name("policy_reachable.yaml" if reachable else "policy.yaml")


def sample_policy(reachable: bool = False) -> Any:
    """:func:`sample_policy_path` read as a :class:`journeymine.actions.Policy`.

    Examples
    --------
    >>> [j.name for j in sample_policy().journeys][:2]
    ['cart_abandonment', 'post_purchase_tips']
    >>> sorted(sample_policy(reachable=True).attributes_needed)
    ['email_opt_in', 'has_app', 'push_opt_in']
    """
    from journeymine.actions import Policy

    return Policy.from_file(sample_policy_path(reachable))
