"""Next-activity accuracy on the public logs with the protocol of Tax et al. (CAiSE 2017), next
to the count baselines on the same split (numbers in the README; rerun with
``python -m benchmarks.run bench_nextstep``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import journeymine as jm

pytestmark = pytest.mark.eventlogs

COLUMNS = {"CaseID": "customer_id", "ActivityID": "activity", "CompleteTimestamp": "timestamp"}


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.exists():
        pytest.skip(f"{name} is not in {folder} (set JOURNEYMINE_EVENTLOGS)")
    # read as the file is: the protocol needs the cases in file order
    return pd.read_csv(path).rename(columns=COLUMNS)


# name: (model accuracy reached, published LSTM, Markov, Markov never ending, ceiling)
EXPECTED = {
    "tax_helpdesk.csv": (0.7421, 0.7123, 0.6944, 0.7265, 0.7486),
    "tax_bpi_12_w.csv": (0.8028, 0.7600, 0.7871, 0.7871, 0.8330),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tax_protocol(eventlogs_dir: Path, name: str) -> None:
    reached, lstm, markov, markov_no_end, ceiling = EXPECTED[name]
    result = jm.evaluate_next_step(lambda: jm.NextStepModel(), _read(eventlogs_dir, name))
    b = result.baselines
    # the split (2 * round(n / 3) training cases, as in their code) and the baselines
    assert b["markov"] == pytest.approx(markov, abs=5e-4)
    assert b["markov_no_end"] == pytest.approx(markov_no_end, abs=5e-4)
    assert b["ceiling"] == pytest.approx(ceiling, abs=5e-4)
    # the model: what it reached (small margin), above the LSTM and every count baseline
    assert result.accuracy >= reached - 0.005
    assert result.accuracy > max(lstm, b["markov"], b["markov_no_end"], b["backoff"])


@pytest.mark.long  # 5 folds of the model's search: `make test-long` (and bench_nextstep)
def test_kfold_beats_the_count_baselines(eventlogs_dir: Path) -> None:
    log = _read(eventlogs_dir, "tax_helpdesk.csv")
    result = jm.evaluate_next_step(lambda: jm.NextStepModel(), log, protocol="kfold", n_splits=5)
    assert len(result.splits) == 5
    assert result.splits["test_cases"].sum() == log["customer_id"].nunique()
    b = result.baselines
    assert result.accuracy > max(b["markov"], b["markov_no_end"], b["backoff"])
    assert (result.splits["model"] >= result.splits["markov_no_end"] - 0.01).all()
    summary = result.summary()
    assert summary.loc["model", "accuracy"] == result.accuracy


def test_evaluation_refusals(eventlogs_dir: Path) -> None:
    log = _read(eventlogs_dir, "tax_helpdesk.csv")
    with pytest.raises(jm.ConfigError, match="protocol must be"):
        jm.evaluate_next_step(lambda: jm.NextStepModel(), log, protocol="holdout")
    with pytest.raises(jm.ConfigError, match="model_factory must be a callable"):
        jm.evaluate_next_step(jm.NextStepModel(), log)
    with pytest.raises(jm.ConfigError, match="n_splits"):
        jm.evaluate_next_step(lambda: jm.NextStepModel(), log, protocol="kfold", n_splits=1)


# logs the model was not developed on, read with read_xes: (file, read_xes options, accuracy
# reached with 5-fold case-level cross-validation, best count baseline on the same prefixes)
OTHER_LOGS: dict[str, tuple[str, dict[str, Any], float, float]] = {
    "roadtraffic100": ("roadtraffic100traces.xes", {}, 0.8263, 0.8263),
    "repairExample": ("repairExample.xes.gz", {"plausible_range": None}, 0.9104, 0.8212),
    "receipt": ("receipt.xes.gz", {}, 0.8827, 0.8711),
    # simulated; the weights chosen on the held-out cases alone lost 3 prefixes to back-off here
    # (7,257 against 7,260 on the first fold), on three times that evidence none
    "teleclaims": ("teleclaims.xes.gz", {"plausible_range": None}, 0.9243, 0.9243),
}


# 5 folds of the model's search take a minute (repairExample) to three (receipt, teleclaims) on
# these logs: run by `make test-long` (which `make bench` runs; bench_nextstep prints them)
LONG_LOGS = {"receipt", "repairExample", "teleclaims"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.long) if n in LONG_LOGS else n for n in sorted(OTHER_LOGS)],
)
def test_kfold_on_other_logs_is_not_below_the_count_models(eventlogs_dir: Path, name: str) -> None:
    import warnings

    file, options, reached, best_count = OTHER_LOGS[name]
    if not (eventlogs_dir / file).exists():
        pytest.skip(f"{file} is not in {eventlogs_dir}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the raw logs' duplicate-event warnings
        log = jm.read_xes(eventlogs_dir / file, **options)
    result = jm.evaluate_next_step(lambda: jm.NextStepModel(), log, protocol="kfold")
    b = result.baselines
    assert max(b["markov"], b["markov_no_end"], b["backoff"]) == pytest.approx(best_count, abs=5e-4)
    assert result.accuracy >= reached - 0.005
    # above both Markov variants (what the issue asks on logs we do not have), and never below
    # the back-off count model (roadtraffic100, 100 cases: equal to it, the count model alone
    # on most folds, too few held-out prefixes; the trees alone reached 0.7632)
    assert result.accuracy > max(b["markov"], b["markov_no_end"])
    assert result.accuracy >= b["backoff"]


def test_a_tiny_log_is_the_first_order_markov_model(eventlogs_dir: Path) -> None:
    import warnings

    if not (eventlogs_dir / "running-example.xes").exists():
        pytest.skip(f"running-example.xes is not in {eventlogs_dir}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = jm.read_xes(eventlogs_dir / "running-example.xes")
    # 6 cases, about 24 training prefixes a fold: the count model alone, of order 1; on every
    # fold as accurate as the Markov model that never predicts the end (3 seeds of the split)
    for seed in range(3):
        result = jm.evaluate_next_step(
            lambda: jm.NextStepModel(max_iter=20), log, protocol="kfold", random_state=seed
        )
        folds = result.splits
        assert (folds["model"] == folds["markov_no_end"]).all()
