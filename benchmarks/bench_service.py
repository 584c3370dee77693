"""Continuous decisioning service: ingest throughput and next-best-action latency by
customer_id on a real `jm serve` (SQLite and Redis state stores)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._data import OUT, events_path
from benchmarks._harness import Measurement, measure

API_KEY = "bench-key"
N_CUSTOMERS = 2_000  # the cached make_journeys(2_000, random_state=0) log
N_TRAIN = 1_000

NOTES = """
A real `jm serve` (one uvicorn worker, or two sharing the Redis store, in its own processes,
with the server's HTTP protocol and its slow-client deadline) with a 10-journey policy (the
sample policy's 5 journeys and 5 more: consent, persona and product rules, suppressions, minimum
gaps, caps per channel and over all channels, fatigue), response rates fitted on the log, a
persona model trained on the true personas of `make_journeys(1_000, random_state=1)`. Events:
`make_journeys(2_000, random_state=0)` (cached Parquet). Stores: a SQLite file (WAL,
`synchronous=FULL`) on the local disk, and a `redis-server` on 127.0.0.1 started for the run
with `appendonly yes` and `appendfsync always` (the durable setting the service documents).
The 2-worker rows run the deployment the service guide documents (about one worker per core,
the state in Redis).

- **ingest events/s**: the whole log posted to `POST /v1/events` in time order, batches of 500
  events, 4 batches in flight; each batch is acknowledged once durable. Wall time / events.
- **next-best-action p50/p99 (ms)**: `POST /v1/next-best-action {"customer_id": ...}` (no events
  in the body: the decision is made from the stored state, now, by the server's clock), cycling
  over 500 customers, first one request at a time, then 16 in flight; each customer's persona
  was computed and stored by one warm-up request before timing (it is recomputed only when new
  events arrive). "commit" rows send `"commit": true` (the contact is reserved atomically: a
  write and a disk flush per decision with SQLite). Load generator: a plain HTTP/1.1 client on
  asyncio streams (keep-alive, one connection per request in flight, bodies encoded beforehand)
  on the same 2 cores as the server. Errors: any non-200 or transport error. "server CPU" is the
  CPU time the server's processes used (user + system, from /proc; the workers included) divided
  by the calls: the cost of a call, much less sensitive to the other jobs of a shared machine
  than the latencies.

The machine is shared (other jobs ran at the same time; "load average" is the machine's 1-minute
load average when the timed next-best-action calls start and at the end of the run, on 2
cores), so latencies are upper bounds. `jm serve` runs without uvicorn's access log (its
default: a log line per request cost about a third of a decision's CPU time; `/metrics` counts
requests and latency). `python -m benchmarks.bench_service [--quick] [sqlite] [redis] [redis2]`
runs some of the stores only. With 16 in
flight the latency is mostly queueing: by Little's law the mean is 16 / (requests per second),
so on a loaded machine the latency follows the share of the cores the server gets, and the
server's CPU per call is the number to compare between runs.
"""


def _policy_dict() -> dict[str, Any]:
    """The ten-journey policy the service tests use (examples/policy_ten_journeys.yaml)."""
    import yaml

    path = Path(__file__).parents[1] / "examples" / "policy_ten_journeys.yaml"
    return dict(yaml.safe_load(path.read_text()))


def _artifacts() -> dict[str, Path]:
    """Model, policy and response rates (cached in out/)."""
    folder = OUT  # files ignored by git, like the other benchmarks' caches
    paths = {
        "model": folder / "service_model.skops",
        "policy": folder / "service_policy10.json",
        "rates": folder / "service_rates10.json",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    import pandas as pd

    import journeymine as jm
    from journeymine.actions import Policy, ResponseModel

    folder.mkdir(parents=True, exist_ok=True)
    train = jm.datasets.make_journeys(N_TRAIN, random_state=1)
    truth = train.customers.set_index("customer_id")["persona"]
    names = dict(enumerate(sorted(truth.unique())))
    labels = truth.map({v: k for k, v in names.items()}).astype("int64")
    model = jm.PersonaModel(cv=3, random_state=0).fit(train.events, labels, names=names)
    model.save(paths["model"])
    log = pd.read_parquet(events_path(N_CUSTOMERS))
    policy_dict = _policy_dict()
    paths["policy"].write_text(json.dumps(policy_dict, indent=1))
    policy = Policy.from_dict(policy_dict)
    personas = jm.assign_many(log, model).set_index("customer_id")["persona"]
    ResponseModel().fit(log, personas, policy).save(paths["rates"])
    return paths


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def _start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(port, proc, "redis-server", 30)
    return proc, f"redis://127.0.0.1:{port}/0"


def _events(log: Any) -> list[dict[str, Any]]:
    import numpy as np

    log = log.sort_values("timestamp", kind="stable")
    iso = np.datetime_as_string(log["timestamp"].dt.tz_localize(None).to_numpy(), "us", "UTC")
    out = []
    for c, t, a, ch, j, p in zip(
        log["customer_id"], iso, log["activity"], log["channel"], log["journey_id"],
        log["product"], strict=True,
    ):  # fmt: skip
        e = {"customer_id": str(c), "timestamp": str(t), "activity": str(a), "channel": str(ch)}
        if isinstance(j, str):
            e["journey_id"] = j
        if isinstance(p, str):
            e["product"] = p
        out.append(e)
    return out


def _setup(backend: str, workers: int = 1) -> dict[str, Any]:
    import pandas as pd

    paths = _artifacts()
    folder = Path(tempfile.mkdtemp(prefix="jm-bench-service-"))
    redis = None
    if backend == "redis":
        redis, store = _start_redis(folder)
    else:
        store = f"sqlite:///{folder / 'state.sqlite'}"
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "journeymine", "serve", "--model", str(paths["model"]),
            "--port", str(port), "--store", store, "--policy", str(paths["policy"]),
            "--responses", str(paths["rates"]), "--workers", str(workers),
        ],
        env={**os.environ, "JOURNEYMINE_API_KEY": API_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(port, proc, "jm serve")
    log = pd.read_parquet(events_path(N_CUSTOMERS))
    events = _events(log)
    batches = [
        json.dumps({"events": events[i : i + 500]}).encode() for i in range(0, len(events), 500)
    ]
    customers = sorted(log["customer_id"].astype(str).unique())[:500]
    return {
        "proc": proc,
        "redis": redis,
        "folder": folder,
        "port": port,
        "batches": batches,
        "n_events": len(events),
        "customers": customers,
    }


async def _post(port: int, conns: list[Any], path: str, body: bytes) -> tuple[int, bytes]:
    """One POST on a kept-alive connection (opened on demand): the status and the body."""
    reader, writer = conns.pop() if conns else await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-api-key: {API_KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        writer.write(head + body)
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        data = await reader.readexactly(int(fields[b"content-length"]))
    except BaseException:
        writer.close()
        raise
    if fields.get(b"connection", b"").lower() == b"close":
        writer.close()
    else:
        conns.append((reader, writer))
    return status, data


def _load(
    port: int, path: str, bodies: list[bytes], n: int, concurrency: int
) -> tuple[list[float], int, float]:
    """Send ``n`` requests (cycling over ``bodies``) with ``concurrency`` in flight:
    latencies (ms), errors, wall seconds."""

    async def main() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        counter = iter(range(n))
        conns: list[Any] = []

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                t0 = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(
                        _post(port, conns, path, bodies[i % len(bodies)]), 60
                    )
                    json.loads(payload)
                    errors += status != 200
                except (TimeoutError, OSError, EOFError, ValueError, LookupError):
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1e3)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        for _, writer in conns:
            writer.close()
        return latencies, errors

    t0 = time.perf_counter()
    latencies, errors = asyncio.run(main())
    return latencies, errors, time.perf_counter() - t0


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process and its children (the workers) have used so
    far (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _run(data: dict[str, Any], n: int = 3_000) -> dict[str, Any]:
    port = data["port"]
    pid = data["proc"].pid
    try:
        cpu = _cpu_s(pid)
        _, errors, wall = _load(port, "/v1/events", data["batches"], len(data["batches"]), 4)
        out: dict[str, Any] = {
            "ingest": {
                "rate": data["n_events"] / wall,
                "errors": errors,
                "n": data["n_events"],
                "cpu_us": (_cpu_s(pid) - cpu) / data["n_events"] * 1e6,
            }
        }
        plain = [json.dumps({"customer_id": c}).encode() for c in data["customers"]]
        _load(port, "/v1/next-best-action", plain, len(plain), 4)  # personas computed, stored
        out["load_start"] = os.getloadavg()[0]
        for name, bodies, count, flight in (
            ("1", plain, max(n // 6, 200), 1),
            ("16", plain, n, 16),
            (
                "16 commit",
                [
                    json.dumps({"customer_id": c, "commit": True}).encode()
                    for c in data["customers"]
                ],
                n,
                16,
            ),
        ):
            cpu = _cpu_s(pid)
            lat, errors, wall = _load(port, "/v1/next-best-action", bodies, count, flight)
            out[name] = {
                "cpu_ms": (_cpu_s(pid) - cpu) / count * 1e3,
                "p50": _pct(lat, 50),
                "p99": _pct(lat, 99),
                "errors": errors,
                "n": count,
                "rps": count / wall,
            }
        out["load"] = os.getloadavg()[0]  # the machine's 1-minute load average at the end
        return out
    finally:
        data["proc"].terminate()
        data["proc"].wait(timeout=60)
        if data["redis"] is not None:
            data["redis"].terminate()
            data["redis"].wait(timeout=30)
        shutil.rmtree(data["folder"], ignore_errors=True)


def _setup_sqlite() -> dict[str, Any]:
    return _setup("sqlite")


def _setup_redis() -> dict[str, Any]:
    return _setup("redis")


def _setup_redis_2() -> dict[str, Any]:
    return _setup("redis", workers=2)


def _run_quick(data: dict[str, Any]) -> dict[str, Any]:
    return _run(data, 600)


def rows_of(m: Measurement) -> list[Measurement]:
    """The measurement of one backend as result rows."""
    if m.error or not m.result:
        return [m]
    r = m.result
    ing = r["ingest"]
    rows = [
        Measurement(
            "ingest events/s (higher is better)",
            f"{m.contender} ({ing['n']:,} events, {ing['errors']} errors, server CPU "
            f"{ing['cpu_us']:.0f} us/event)",
            "batches of 500, 4 in flight",
            ing["rate"],
            m.peak_mb,
            m.base_mb,
        )
    ]
    for flight in ("1", "16", "16 commit"):
        x = r[flight]
        who = (
            f"{m.contender} ({x['n']:,} calls, {x['errors']} errors, {x['rps']:.0f} req/s, "
            f"server CPU {x['cpu_ms']:.2f} ms/call, load average {r['load_start']:.1f} at the "
            f"start, {r['load']:.1f} at the end)"
        )
        for q in ("p50", "p99"):
            rows.append(
                Measurement(
                    f"next-best-action {q} (ms), {flight} in flight",
                    who,
                    "10 journeys",
                    x[q],
                    m.peak_mb,
                    m.base_mb,
                )
            )
    return rows


SETUPS = {
    "sqlite": ("SQLite store, 1 worker", _setup_sqlite),
    "redis": ("Redis store, 1 worker", _setup_redis),
    "redis2": ("Redis store, 2 workers", _setup_redis_2),
}


def run(quick: bool, stores: tuple[str, ...] = tuple(SETUPS)) -> list[Measurement]:
    _artifacts()
    rows: list[Measurement] = []
    for backend, setup in (SETUPS[s] for s in stores):
        m = measure(
            "service", f"journeymine service (jm serve, {backend})",
            "10 journeys", setup, _run_quick if quick else _run,
        )  # fmt: skip
        rows += rows_of(m)
    return rows


if __name__ == "__main__":  # python -m benchmarks.bench_service [--quick] [sqlite redis redis2]
    chosen = tuple(a for a in sys.argv[1:] if a in SETUPS) or tuple(SETUPS)
    for row in run("--quick" in sys.argv, chosen):
        print(f"{row.task:<45} {row.contender:<70} {row.seconds:10.2f} {row.error or ''}")
