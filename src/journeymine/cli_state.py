"""``jm state``: the customer state store of ``jm serve`` (see :mod:`journeymine.service.state`):
inspect a customer, export the events and contacts (JSON Lines or Parquet), remove old data
(retention) and give the space back (compact).

The store is the one ``jm serve`` uses: ``--store sqlite:///PATH`` (the file must exist: a typo
never creates an empty store) or ``--store redis://HOST:PORT/DB``; the environment variable
``JOURNEYMINE_STORE`` is the default, as for ``jm serve``. Every output is written atomically
(a temporary file, then a rename) and never onto the store's own file.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from journeymine.cli_errors import CliGroup
from journeymine.cli_paths import Output, check_outputs
from journeymine.exceptions import ConfigError

__all__ = ["state_app"]

state_app = typer.Typer(
    name="state",
    help="The customer state store of `jm serve`: inspect, export, retention, compact.",
    no_args_is_help=True,
    cls=CliGroup,
)

StoreOpt = Annotated[
    str,
    typer.Option(
        envvar="JOURNEYMINE_STORE",
        metavar="URL",
        help="The state store: sqlite:///PATH (an existing file, e.g. the "
        "<model>.state.sqlite beside the model) or redis://HOST:PORT/DB.",
    ),
]
FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def _open(url: str) -> tuple[Any, dict[str, Path]]:
    """The store at ``url`` and, for SQLite, its file as an input that outputs must not
    overwrite."""
    from journeymine.service.state import StoreUnavailable, open_store

    inputs: dict[str, Path] = {}
    if url.lower().startswith("sqlite:///"):
        raw = url[len("sqlite:///") :]
        path = Path(raw)
        if not path.is_file() and Path("/" + raw).is_file():
            path = Path("/" + raw)
        if not path.is_file():
            raise ConfigError(
                f"--store {url}: no state file {path}; give the file `jm serve` uses (by "
                f"default <model>.state.sqlite beside the model)."
            )
        inputs["the state store"] = path
        url = f"sqlite:///{path.resolve()}"
    try:
        store = open_store(url)
        store.ping()
    except StoreUnavailable as exc:
        raise ConfigError(f"--store {url}: the store does not answer ({exc}).") from exc
    return store, inputs


@contextlib.contextmanager
def _opened(url: str) -> Iterator[tuple[Any, dict[str, Path]]]:
    """:func:`_open`, then the store closed after use; a store that stops answering in
    between is a :class:`ConfigError` naming ``url``."""
    from journeymine.service.state import StoreUnavailable

    st, inputs = _open(url)
    try:
        yield st, inputs
    except StoreUnavailable as exc:
        raise ConfigError(f"--store {url}: {exc}") from exc
    finally:
        st.close()


def _format(path: Path, option: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"{option} {path}: write JSON Lines (.jsonl) or Parquet (.parquet); the format "
            f"follows the file's extension."
        )
    return fmt


def _iso(t_us: int) -> str:
    import pandas as pd

    return pd.Timestamp(t_us, unit="us", tz="UTC").isoformat()


@state_app.command()
def show(
    customer_id: Annotated[str, typer.Argument(help="The customer to inspect.")],
    store: StoreOpt,
    recent: Annotated[int, typer.Option(min=0, help="Most recent events to show.")] = 20,
) -> None:
    """Print one customer's stored state as JSON: events (count, first, last, the most recent),
    contacts reserved by committed decisions, and the stored persona (and whether it was
    computed on the current events)."""
    with _opened(store) as (st, _):
        state = st.get(customer_id)
    if state is None:
        raise ConfigError(f"no events of customer {customer_id!r:.80} in --store {store}.")
    out = {
        "customer_id": state.customer_id,
        "n_events": len(state.events),
        "first_event": _iso(state.event_times[0]),
        "last_event": _iso(state.event_times[-1]),
        "persona": state.persona,
        "persona_name": state.persona_name,
        "probability": state.probability,
        "persona_current": state.persona_fresh,
        "contacts": [asdict(c) | {"at": _iso(c.t_us)} for c in state.contacts],
        "recent_events": state.events[len(state.events) - recent :] if recent else [],
    }
    typer.echo(json.dumps(out, indent=2))


def _rows(st: Any, contacts: bool) -> Iterator[dict[str, Any]]:
    for cid in st.customers():
        state = st.get(cid)
        if state is None:  # removed meanwhile
            continue
        if contacts:
            for c in state.contacts:
                yield asdict(c) | {"at": _iso(c.t_us)}
        else:
            for t, e in zip(state.event_times, state.events, strict=True):
                yield {**e, "customer_id": cid, "t_us": t}


def _write(rows: Iterator[dict[str, Any]], path: Path, fmt: str) -> int:
    from journeymine.io.atomic import atomic_path

    n = 0
    with atomic_path(path) as tmp:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in rows:
                    row.pop("t_us", None)
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                    n += 1
        else:
            import pandas as pd

            frame = pd.DataFrame(list(rows))
            n = len(frame)
            if "t_us" in frame.columns:  # events: the exact stored time as the timestamp
                frame["timestamp"] = pd.to_datetime(frame.pop("t_us"), unit="us", utc=True)
            frame.to_parquet(tmp, index=False)
    return n


@state_app.command()
def export(
    store: StoreOpt,
    out: Annotated[
        Path, typer.Option(help="Events file: .jsonl (JSON Lines) or .parquet (a log).")
    ],
    contacts: Annotated[
        Path | None,
        typer.Option(help="Also the contacts of committed decisions: .jsonl or .parquet."),
    ] = None,
) -> None:
    """Export every stored event (as received, with its event_id; Parquet: one row per event
    with the exact stored timestamp, readable by `jm` commands) and optionally the contacts."""
    fmt = _format(out, "--out")
    c_fmt = _format(contacts, "--contacts") if contacts is not None else None
    with _opened(store) as (st, inputs):
        check_outputs(
            [
                Output("--out", out, example="events.jsonl"),
                Output("--contacts", contacts, example="contacts.jsonl"),
            ],
            inputs,
        )
        n = _write(_rows(st, False), out, fmt)
        typer.echo(f"wrote {n:,} events to {out}")
        if contacts is not None and c_fmt is not None:
            k = _write(_rows(st, True), contacts, c_fmt)
            typer.echo(f"wrote {k:,} contacts to {contacts}")


@state_app.command()
def compact(
    store: StoreOpt,
    older_than: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Retention: first remove the events and contacts older than this (e.g. 400D) "
            "before now; keep it longer than the policy's longest window. Customers then get "
            "their persona from the events kept.",
        ),
    ] = None,
) -> None:
    """Remove old data (with --older-than) and give the space back (SQLite: checkpoint the
    write-ahead log and VACUUM; Redis: rewrite the append-only file in the background)."""
    from journeymine.schema import check_duration

    cutoff = None
    if older_than is not None:
        keep = check_duration(older_than, "--older-than", examples="'400D' or '52W'")
        cutoff = time.time_ns() // 1000 - int(keep.total_seconds() * 1_000_000)
    with _opened(store) as (st, _):
        if cutoff is not None:
            events, contacts = st.delete_before(cutoff)
            typer.echo(
                f"removed {events:,} events and {contacts:,} contacts older than {_iso(cutoff)}"
            )
        st.compact()
        typer.echo(f"compacted {store}")
