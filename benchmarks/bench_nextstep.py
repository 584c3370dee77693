"""Next-step prediction: accuracy on the public logs (Tax et al. protocol and 5-fold) next to
the count baselines, fit time on 1M events, single-customer latency, and per-persona quality
on the generator.

Run with ``.venv/bin/python -m benchmarks.run bench_nextstep`` (``--quick`` for small sizes).
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._data import events_path
from benchmarks._harness import Measurement, measure

OUT = Path(__file__).parent / "out"
EVENTLOGS = Path(
    os.environ.get(
        "JOURNEYMINE_EVENTLOGS",
        Path(__file__).resolve().parents[1].parent / "shared/data/eventlogs",
    )
)
TAX = {"helpdesk": "tax_helpdesk.csv", "bpi12w": "tax_bpi_12_w.csv"}
# the other public logs, read with read_xes (two synthetic ones have 1970 dates)
XES = {
    "running-example": ("running-example.xes", {}),
    "roadtraffic100": ("roadtraffic100traces.xes", {}),
    "repairExample": ("repairExample.xes.gz", {"plausible_range": None}),
    "receipt": ("receipt.xes.gz", {}),
    "teleclaims": ("teleclaims.xes.gz", {"plausible_range": None}),
    "helpdesk.xes": ("helpdesk.xes.gz", {}),
    "bpic2012": ("bpic2012.xes.gz", {}),
}
XES_QUICK = ("running-example", "roadtraffic100", "repairExample")
SEEDS = (0, 1, 2)  # of the 5-fold case split
N_FIT = 20_000  # make_journeys customers: ~1M events
N_FIT_QUICK = 2_000

NOTES = """
Model: `jm.NextStepModel()` with its defaults (histogram gradient boosting on prefix features:
last 5 activities, last 2 values of each attribute, activity and channel counts, seconds since
each activity, prefix length, run length, elapsed time, last two gaps, events in the trailing
day/week, hour and weekday; early stopping and temperature calibration on 15% of the cases;
one thread; next-activity probabilities blended with an interpolated count model of the last
1 to k <= 5 activities, k chosen by case-level cross-fitting on the training log (the shortest
within one standard error of the best; k = 1, the first-order Markov model, under 100 training
prefixes), one weight per context length (1, 2, 3-4, 5+ activities) learnt by log loss on the
held-out cases and, below 30,000 held-out prefixes, two more groups of training cases of the
same size each predicted by activity trees refitted without it (case-level cross-fitting),
shrunk to the global weight by 100 pseudo-rows, and set to 0 (the counts alone) for a length
where the blend was less accurate than the counts on that evidence, or everywhere with fewer
than 100 held-out prefixes), unchanged across logs.

- **tax next activity**: `jm.evaluate_next_step(lambda: jm.NextStepModel(), log,
  protocol="tax")` on `tax_helpdesk.csv` / `tax_bpi_12_w.csv` read as the files are (cases in
  file order, first 2/3 train, every prefix of length >= 2 of a test case with a next event,
  pooled accuracy). The contender column holds the model's accuracy, then on the same prefixes:
  first-order Markov (may predict the end, counted wrong), Markov never predicting the end,
  back-off count model over the last <= 5 activities, and the activity-only ceiling (best
  function of the full activity prefix, fitted on the test prefixes). Published LSTM (Tax et
  al., CAiSE 2017): 0.7123 / 0.7600. Time: the whole evaluation (fit + scoring + baselines).
- **5-fold next activity**: the same with `protocol="kfold"` (case-level, shuffled; seeds 0, 1
  and 2 of the fold split, `--quick`: seed 0; the accuracies are the means over the seeds, the
  printed line gives their range, the sd over the 5 folds and the folds won against each count
  model),
  on the two Tax files and on the logs read with `jm.read_xes` (running-example, roadtraffic100,
  repairExample and teleclaims with `plausible_range=None` (1970 dates), receipt, helpdesk.xes,
  bpic2012): every event attribute of the file used as it is read.
- **fit 1M events**: `NextStepModel(outcome="purchase", horizon="7D").fit(events)` on
  `make_journeys(20_000, random_state=0)` (cached Parquet): four heads (activity, channel,
  seconds to next, purchase within 7 days); at most 250,000 training prefixes (`max_samples`).
  The model is saved and reloaded by the next task.
- **predict one customer (ms)**: the loaded 1M-event model, one customer's first 50 events
  (500 customers, cycled, 2,000 calls each timed with `perf_counter`; the "time" column holds
  milliseconds: p50 and p99 rows), two ways: `model.predict_customer(events)` with the events
  as the service receives them (a list of dicts, ISO 8601 timestamps, missing attributes left
  out) and `model.predict(frame)` with a DataFrame (the same answer, checked in the run); and
  the first `predict_customer` call after loading (the loader builds the scoring tables, which
  the first call used to build: 1.7 s on this model).
- **generator by persona**: fitted on `make_journeys(4_000, random_state=1)`, scored after every
  event of `make_journeys(2_000, random_state=0)`: next-channel accuracy (baseline: the channel
  of the current event) and the AUC of `p_outcome` for a purchase within 7 days (prefixes whose
  7 days run past the end of the log without a purchase are left out), per true persona.

The machine is shared (other jobs ran at the same time), so times are upper bounds.
"""


def _tax(name: str) -> Any:
    import pandas as pd

    cols = {"CaseID": "customer_id", "ActivityID": "activity", "CompleteTimestamp": "timestamp"}
    return pd.read_csv(EVENTLOGS / TAX[name]).rename(columns=cols)


def setup_helpdesk() -> Any:
    return _tax("helpdesk")


def setup_bpi12w() -> Any:
    return _tax("bpi12w")


def run_tax(log: Any) -> dict[str, Any]:
    import journeymine as jm

    r = jm.evaluate_next_step(lambda: jm.NextStepModel(), log, protocol="tax")
    return {"accuracy": r.accuracy, **r.baselines, "prefixes": r.n_prefixes}


def kfold_seeds(log: Any, seeds: tuple[int, ...]) -> dict[str, Any]:
    """5-fold case-level accuracy of the default model and the count baselines for each seed of
    the fold split: pooled means over the seeds, the spread over the folds (sd of the 5 fold
    accuracies, averaged over the seeds) and over the seeds (min, max of the pooled accuracy),
    and how many folds the model won against each Markov variant."""
    import numpy as np
    import pandas as pd

    import journeymine as jm

    names = ("model", "markov", "markov_no_end", "backoff", "ceiling")
    per_seed, folds = [], []
    for seed in seeds:
        r = jm.evaluate_next_step(
            lambda: jm.NextStepModel(), log, protocol="kfold", random_state=seed
        )
        per_seed.append({"seed": seed, "model": r.accuracy, **r.baselines})
        folds.append(r.splits.assign(seed=seed))
    pooled = {n: float(np.mean([s[n] for s in per_seed])) for n in names}
    table = pd.concat(folds)
    return {
        "accuracy": pooled["model"],
        **{n: pooled[n] for n in names[1:]},
        "prefixes": int(table["prefixes"].sum() // len(seeds)),
        "seeds": list(seeds),
        "seed_range": {
            n: [float(min(s[n] for s in per_seed)), float(max(s[n] for s in per_seed))]
            for n in names
        },
        "fold_sd": {
            n: float(table.groupby("seed")[n].std(ddof=1).mean()) for n in names if n in table
        },
        "folds_won": {
            b: f"{int((table['model'] > table[b]).sum())} won, "
            f"{int((table['model'] == table[b]).sum())} tied of {len(table)}"
            for b in ("markov", "markov_no_end", "backoff")
        },
        "per_seed": per_seed,
    }


def run_kfold(log: Any) -> dict[str, Any]:
    return kfold_seeds(log, SEEDS)


def run_kfold_quick(log: Any) -> dict[str, Any]:
    return kfold_seeds(log, SEEDS[:1])


def setup_xes(name: str) -> Any:
    import warnings

    import journeymine as jm

    path, kwargs = XES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate-event warnings of the raw logs
        return jm.read_xes(EVENTLOGS / path, **kwargs)


def _model_path(n: int) -> Path:
    return OUT / f"nextstep_model_c{n}.skops"


def setup_fit() -> Any:
    import pandas as pd

    return pd.read_parquet(events_path(N_FIT)), N_FIT


def setup_fit_quick() -> Any:
    import pandas as pd

    return pd.read_parquet(events_path(N_FIT_QUICK)), N_FIT_QUICK


def run_fit(data: Any) -> dict[str, Any]:
    import journeymine as jm

    log, n = data
    model = jm.NextStepModel(outcome="purchase", horizon="7D").fit(log)
    OUT.mkdir(exist_ok=True)
    model.save(_model_path(n))
    return {"events": len(log), "n_iter": model.n_iter_, **model.card_["training"]}


def _records(frame: Any) -> list[dict[str, Any]]:
    """One customer's events as the service receives them: dicts, ISO 8601 timestamps,
    missing attributes left out."""
    out = []
    for row in frame.to_dict(orient="records"):
        rec = {k: v for k, v in row.items() if not (isinstance(v, float) and v != v)}
        rec["timestamp"] = row["timestamp"].isoformat()
        out.append(rec)
    return out


def _timed(fn: Any, items: list[Any], n_calls: int) -> dict[str, float]:
    import numpy as np

    for item in items[:50]:
        fn(item)  # warm up
    times = []
    for i in range(n_calls):
        item = items[i % len(items)]
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1e3
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def _latency(n: int) -> dict[str, Any]:
    import pandas as pd

    import journeymine as jm

    model = jm.load_next_step_model(_model_path(n))
    log = pd.read_parquet(events_path(n))
    sizes = log.groupby("customer_id", observed=True).size()
    chosen = sizes[sizes >= 50].index[:500]
    part = log[log["customer_id"].isin(chosen)].sort_values(["customer_id", "timestamp"])
    frames = [
        g.head(50).reset_index(drop=True) for _, g in part.groupby("customer_id", observed=True)
    ]
    records = [_records(f) for f in frames]
    t0 = time.perf_counter()
    model.predict_customer(records[0])
    first_ms = (time.perf_counter() - t0) * 1e3  # the loader builds the scoring tables
    # the two paths give the same answer (tests/nextstep/test_customer.py); checked here too
    for f, r in zip(frames[:20], records[:20], strict=True):
        row, step = model.predict(f).iloc[0], model.predict_customer(r)
        if (row["activity"], row["probability"]) != (step.activity, step.probability):
            raise AssertionError(f"predict_customer differs from predict for {step.customer_id}")
    return {
        "first_ms": first_ms,
        "frame": _timed(model.predict, frames, 2_000),
        "records": _timed(model.predict_customer, records, 2_000),
    }


def run_latency(_: Any) -> dict[str, Any]:
    return _latency(N_FIT)


def run_latency_quick(_: Any) -> dict[str, Any]:
    return _latency(N_FIT_QUICK)


def setup_none() -> Any:
    return None


def persona_quality(n_train: int, n_test: int) -> dict[str, Any]:
    """Next-channel accuracy and purchase-within-7-days AUC per true persona."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    import journeymine as jm
    from journeymine.nextstep._events import outcome_within, to_events

    train = jm.datasets.make_journeys(n_train, random_state=1).events
    test_data = jm.datasets.make_journeys(n_test, random_state=0)
    test = test_data.events
    model = jm.NextStepModel(outcome="purchase", horizon="7D").fit(train)
    every = model.predict_prefixes(test)
    ev = to_events(test)
    nxt_channel = test.sort_values(["customer_id", "timestamp"], kind="stable")
    # to_events keeps first-appearance order and a stable time sort: same rows as predict_prefixes
    ch = ev.columns["channel"].astype(str).to_numpy()
    has_next = np.ones(ev.n_events, dtype=bool)
    has_next[ev.last] = False
    truth_ch = np.where(has_next, np.roll(ch, -1), None)
    within, known = outcome_within(ev, "purchase", 7 * 86400.0)
    persona = test_data.customers.set_index("customer_id")["persona"].astype(str)
    who = persona.reindex(every["customer_id"]).to_numpy()
    rows = []
    for p in [*sorted(set(who)), "all"]:
        sel = (who == p) if p != "all" else np.ones(len(who), dtype=bool)
        m = sel & has_next
        k = sel & known
        auc = (
            roc_auc_score(within[k], every["p_outcome"].to_numpy()[k])
            if 0 < within[k].sum() < k.sum()
            else float("nan")
        )
        rows.append(
            {
                "persona": p,
                "prefixes": int(m.sum()),
                "next_channel_accuracy": float(
                    np.mean(every["channel"].to_numpy()[m] == truth_ch[m])
                ),
                "same_channel_baseline": float(np.mean(ch[m] == truth_ch[m])),
                "next_activity_accuracy": float(
                    np.mean(every["activity"].to_numpy()[m] == np.roll(ev.activity, -1)[m])
                ),
                "purchase_7d_rate": float(within[k].mean()),
                "purchase_7d_auc": float(auc),
            }
        )
    del nxt_channel
    return {"table": pd.DataFrame(rows).to_dict(orient="records")}


def run_personas(_: Any) -> dict[str, Any]:
    return persona_quality(4_000, 2_000)


def run_personas_quick(_: Any) -> dict[str, Any]:
    return persona_quality(800, 400)


def _label(m: Measurement) -> None:
    r = m.result or {}
    if "accuracy" in r:
        m.contender = (
            f"{m.contender} ({r['accuracy']:.4f}; markov {r['markov']:.4f}, never-end "
            f"{r['markov_no_end']:.4f}, back-off {r['backoff']:.4f}, ceiling {r['ceiling']:.4f}; "
            f"{r['prefixes']} prefixes)"
        )
        if "fold_sd" in r:
            sd, rng = r["fold_sd"], r["seed_range"]
            print(
                f"    seeds {r['seeds']}: model {rng['model'][0]:.4f}-{rng['model'][1]:.4f}, "
                f"never-end {rng['markov_no_end'][0]:.4f}-{rng['markov_no_end'][1]:.4f}; fold sd "
                f"model {sd['model']:.4f}, markov {sd['markov']:.4f}, never-end "
                f"{sd['markov_no_end']:.4f}; folds vs markov: {r['folds_won']['markov']}, vs "
                f"never-end: {r['folds_won']['markov_no_end']}, vs back-off: "
                f"{r['folds_won']['backoff']}",
                flush=True,
            )
    elif "table" in r:
        overall = r["table"][-1]
        m.contender = (
            f"{m.contender} (next channel {overall['next_channel_accuracy']:.3f} vs same-channel "
            f"{overall['same_channel_baseline']:.3f}; purchase 7d AUC "
            f"{overall['purchase_7d_auc']:.3f})"
        )
        for row in r["table"]:
            print(f"    {row}", flush=True)
    print(f"    -> {m.contender}", flush=True)


def run(quick: bool) -> list[Measurement]:
    out: list[Measurement] = []
    if (EVENTLOGS / TAX["helpdesk"]).exists():
        for name, setup in (("helpdesk", setup_helpdesk), ("bpi12w", setup_bpi12w)):
            out.append(measure("tax next activity", "journeymine", name, setup, run_tax))
            if not quick or name == "helpdesk":
                out.append(
                    measure(
                        "5-fold next activity",
                        "journeymine",
                        name,
                        setup,
                        run_kfold_quick if quick else run_kfold,
                    )
                )
        for name in XES_QUICK if quick else XES:
            out.append(
                measure(
                    "5-fold next activity",
                    "journeymine",
                    name,
                    functools.partial(setup_xes, name),  # module-level: spawn pickles it
                    run_kfold_quick if quick else run_kfold,
                )
            )
    else:
        print(f"  public logs not found at {EVENTLOGS}; set JOURNEYMINE_EVENTLOGS", flush=True)
    size = "2k cust" if quick else "1M"
    out.append(
        measure("fit", "journeymine", size, setup_fit_quick if quick else setup_fit, run_fit)
    )
    lat = measure(
        "predict one customer",
        "journeymine",
        "50 ev",
        setup_none,
        run_latency_quick if quick else run_latency,
    )
    if lat.result:
        paths = {
            "records": "journeymine predict_customer(list of dicts)",
            "frame": "journeymine predict(DataFrame)",
        }
        out.append(
            Measurement(
                "predict one customer, first call after load (ms)",
                paths["records"],
                "50 ev",
                lat.result["first_ms"],
                lat.peak_mb,
                lat.base_mb,
                {"first_ms": lat.result["first_ms"]},
            )
        )
        for path, contender in paths.items():
            for q in ("p50", "p99"):
                out.append(
                    Measurement(
                        f"predict one customer {q} (ms)",
                        contender,
                        "50 ev",
                        lat.result[path][q],
                        lat.peak_mb,
                        lat.base_mb,
                        lat.result[path],
                    )
                )
    else:
        out.append(lat)
    out.append(
        measure(
            "generator by persona",
            "journeymine",
            "400 cust" if quick else "2k cust",
            setup_none,
            run_personas_quick if quick else run_personas,
        )
    )
    for m in out:
        _label(m)
    return out
