"""An independent synthetic event log: a Markov chain over 30 activities and 6 channels.

Not :mod:`journeymine.datasets`: a plain numpy simulation (seeded), so the benchmarks also run on
input we did not design for ourselves. Each customer starts at a random time in 2024 (uniform
over 180 days), draws a first activity, then follows a sparse random transition matrix until it
stops (each activity has its own stop probability; on average about 26 events per customer).
The channel of an event depends on its activity (each activity has a preferred channel) and on
the previous event's channel (customers tend to stay where they are). Gaps between events are
log-normal (seconds to days), at least 1 second, so a customer's events have distinct times
and every contender orders them the same way.

Rows are shuffled before writing, as a raw export merged from several sources would be. The
Parquet file holds ``customer_id``, ``timestamp`` (UTC, microseconds), ``activity`` and
``channel`` as plain strings (no dictionary type in the schema).

    python -m benchmarks.gen_independent 10_000_000 benchmarks/out/independent_10M.parquet
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

N_ACTIVITIES = 30
CHANNELS = ("web", "app", "email", "sms", "push", "store")
EVENTS_PER_CUSTOMER = 26.0  # 10M events -> ~384k customers
MAX_EVENTS = 400  # a customer stops after this many events whatever the chain says
START = np.datetime64("2024-01-01T00:00:00", "us")
SPAN_US = 180 * 86_400 * 1_000_000


def _chain(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start distribution, row-stochastic sparse transition matrix, stop probability per
    activity and preferred channel per activity."""
    k = N_ACTIVITIES
    start = rng.dirichlet(np.full(k, 0.3))
    trans = np.zeros((k, k))
    for a in range(k):
        nxt = rng.choice(k, size=rng.integers(3, 9), replace=False)  # 3-8 successors each
        trans[a, nxt] = rng.dirichlet(np.full(len(nxt), 0.7))
    # the chain spends more time in low-stop activities: 1.068 brings the mean length to ~26
    stop = rng.uniform(0.2, 1.8, size=k) * 1.068 / EVENTS_PER_CUSTOMER
    pref = rng.integers(0, len(CHANNELS), size=k)
    return start, trans, stop, pref


def generate(n_events: int, seed: int = 0, chunk: int = 0) -> dict[str, np.ndarray]:
    """Columns of the log (codes for the text columns, before shuffling), about ``n_events``.

    ``chunk`` > 0 draws another set of customers from the same chain (for logs written in
    chunks, see :func:`write_folder`); chunk 0 is the log :func:`write` writes."""
    rng = np.random.default_rng(seed)
    start, trans, stop, pref = _chain(rng)
    if chunk:
        rng = np.random.default_rng([seed, chunk])
    n_cust = max(1, round(n_events / EVENTS_PER_CUSTOMER))
    cum = np.cumsum(trans, axis=1)
    cum[:, -1] = 1.0
    n_ch = len(CHANNELS)

    state = rng.choice(N_ACTIVITIES, size=n_cust, p=start)
    channel = pref[state].copy()
    t = START.astype(np.int64) + rng.integers(0, SPAN_US, size=n_cust)
    alive = np.arange(n_cust)
    cust_parts, act_parts, ch_parts, ts_parts = [], [], [], []
    for step in range(MAX_EVENTS):
        cust_parts.append(alive.astype(np.int32))
        act_parts.append(state.astype(np.int8))
        ch_parts.append(channel.astype(np.int8))
        ts_parts.append(t.copy())
        go = rng.random(len(alive)) >= stop[state]
        if step == MAX_EVENTS - 1 or not go.any():
            break
        alive, state, channel, t = alive[go], state[go], channel[go], t[go]
        u = rng.random(len(alive))
        state = (u[:, None] >= cum[state]).sum(axis=1).clip(0, N_ACTIVITIES - 1)
        # channel: stay (50%), the new activity's preferred channel (35%) or any (15%)
        r = rng.random(len(alive))
        channel = np.where(
            r < 0.5, channel, np.where(r < 0.85, pref[state], rng.integers(0, n_ch, len(alive)))
        )
        gap = np.exp(rng.normal(7.0, 2.5, size=len(alive)))  # median ~18 min, long tail
        t = t + 1_000_000 + (np.minimum(gap, 30 * 86_400) * 1e6).astype(np.int64)
    return {
        "customer": np.concatenate(cust_parts),
        "activity": np.concatenate(act_parts),
        "channel": np.concatenate(ch_parts),
        "timestamp": np.concatenate(ts_parts),
        "n_customers": np.array(n_cust),
    }


def write(n_events: int, path: str | Path, seed: int = 0) -> Path:
    """Generate about ``n_events`` events, shuffle the rows and write them to Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = generate(n_events, seed)
    n = len(cols["activity"])
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(n)
    n_cust = int(cols["n_customers"])
    # customer ids: zero-padded numbers, in a random order unrelated to the chain
    names = np.char.add("u", np.char.zfill(rng.permutation(n_cust).astype(str), 8))
    activities = [f"act_{i:02d}" for i in range(N_ACTIVITIES)]

    def text(codes: np.ndarray, labels: list[str] | np.ndarray) -> pa.Array:
        dictionary = pa.array(np.asarray(labels, dtype=object), type=pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes[order]), dictionary).cast(pa.string())

    table = pa.table(
        {
            "customer_id": text(cols["customer"], names),
            "timestamp": pa.array(cols["timestamp"][order].astype("datetime64[us]")).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "activity": text(cols["activity"], activities),
            "channel": text(cols["channel"], list(CHANNELS)),
        }
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=1_000_000)
    tmp.replace(path)
    return path


def write_folder(
    n_events: int, folder: str | Path, seed: int = 0, chunk_events: int = 10_000_000
) -> Path:
    """About ``n_events`` events as a folder of Parquet files hive-partitioned by day
    (``date=YYYY-MM-DD/part-<chunk>-<i>.parquet``), generated and written ``chunk_events`` at
    a time (each chunk: new customers from the same chain, rows shuffled), so the memory
    needed does not grow with ``n_events``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    n_chunks = max(1, -(-n_events // chunk_events))
    activities = pa.array([f"act_{i:02d}" for i in range(N_ACTIVITIES)], type=pa.string())
    channels = pa.array(list(CHANNELS), type=pa.string())
    offset = 0
    for k in range(n_chunks):
        size = min(chunk_events, n_events - k * chunk_events)
        cols = generate(size, seed, chunk=k)
        n = len(cols["activity"])
        rng = np.random.default_rng([seed, k, 1])
        order = rng.permutation(n)
        n_cust = int(cols["n_customers"])
        ids = rng.permutation(n_cust) + offset
        offset += n_cust
        names = pa.array(np.char.add("u", np.char.zfill(ids.astype(str), 9)), type=pa.string())
        ts = pa.array(cols["timestamp"][order].astype("datetime64[us]")).cast(
            pa.timestamp("us", tz="UTC")
        )
        table = pa.table(
            {
                "customer_id": names.take(pa.array(cols["customer"][order])),
                "timestamp": ts,
                "activity": activities.take(pa.array(cols["activity"][order])),
                "channel": channels.take(pa.array(cols["channel"][order])),
                "date": pc.strftime(ts, format="%Y-%m-%d"),
            }
        )
        del cols, order
        ds.write_dataset(
            table,
            tmp,
            format="parquet",
            partitioning=["date"],
            partitioning_flavor="hive",
            basename_template=f"part-{k}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            max_rows_per_group=1_000_000,
        )
    tmp.replace(folder)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("events", type=lambda s: int(float(s.replace("_", ""))), help="about how many")
    ap.add_argument("path", help="output Parquet file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    path = write(args.events, args.path, args.seed)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    print(f"wrote {meta.num_rows:,} events to {path} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
