"""track_personas: stable ids when nothing changes, scheduled persona changes found as
migrations of the right customers, window handling and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.datasets import SyntheticJourneys, make_journeys
from journeymine.exceptions import ConfigError, DataQualityWarning, EmptyLogError, NotFittedError
from journeymine.personas import PersonaTracks, track_personas
from journeymine.personas.window_model import unstable_pair
from journeymine.personas.windows import most_windows, window_pace

# Measured (seed 0, 4,000 customers, 240 days, change on day 120, two 120-day windows, labels
# with probability >= 0.7 in both windows): 1,909 customers, 238 true changers; 361 customers
# moved persona, precision 0.67, recall 0.985. Without the probability filter: precision 0.59,
# recall 0.98. Most false moves are bargain hunters labelled app loyalists in one window.
MIN_PROBABILITY = 0.7


@pytest.fixture(scope="module")
def stable_tracks(stable_data: tuple[SyntheticJourneys, pd.DataFrame]) -> PersonaTracks:
    _, events = stable_data
    return track_personas(events, windows="90D", min_events=10)


def test_ids_stay_when_nothing_changes(
    stable_tracks: PersonaTracks, stable_data: tuple[SyntheticJourneys, pd.DataFrame]
) -> None:
    tr = stable_tracks
    assert len(tr.windows) == 2
    assert tr.matches["accepted"].all()
    first = set(tr.id_maps[0].values())
    assert first <= set(tr.id_maps[1].values())
    assert not (tr.events["event"] == "death").any()
    # every persona of the first window keeps its id and its name in the second
    for p in first:
        assert tr.names.iloc[0][p] == tr.names.iloc[1][p] != ""
    # The only persona allowed to appear later is the fading one: the generator's lapsing
    # design *is* a change over time (activity decays from the start), so in the second
    # 90 days these customers form a new "Fading customers" persona.
    truth = stable_data[0].customers.set_index("customer_id")["persona"]
    for p in set(tr.id_maps[1].values()) - first:
        assert tr.names.iloc[1][p] == "Fading customers"
        members = tr.labels.index[tr.labels.iloc[:, 1] == p]
        assert (truth.loc[members] == "lapsing_customer").mean() > 0.6
    L = tr.labels
    both = L.notna().all(axis=1) & (L >= 0).all(axis=1)
    # measured 0.792: the rest is mostly the review researchers, who in 90-day windows split by
    # whether they bought (value known) or not, and swap between those two halves
    assert (L.loc[both].iloc[:, 0] == L.loc[both].iloc[:, 1]).mean() > 0.75
    assert tr.sizes.shape == (2, len(set(tr.id_maps[1].values()) | first))
    mig = tr.migration
    assert list(mig.columns) == [
        "from_window",
        "from_persona",
        "to_window",
        "to_persona",
        "customers",
        "confident",
        "expected_moves",
    ]
    present = L.notna().all(axis=1)
    assert mig["customers"].sum() == present.sum()
    matrix = tr.migration_matrix(0, 1)
    assert int(matrix.to_numpy().sum()) == present.sum()


def test_scheduled_changes_are_migrations_of_the_right_customers() -> None:
    data = make_journeys(n_customers=4000, days=240, persona_change_share=0.15, random_state=0)
    tr = track_personas(data.events, windows="120D", min_events=15)
    cust = data.customers.set_index("customer_id")
    L = tr.labels
    p0 = tr.miners[0].probabilities_.reindex(L.index).fillna(0)
    p1 = tr.miners[1].probabilities_.reindex(L.index).fillna(0)
    sure = L.notna().all(axis=1) & (L >= 0).all(axis=1)
    sure &= (p0 >= MIN_PROBABILITY) & (p1 >= MIN_PROBABILITY)
    moved = sure & (L.iloc[:, 0] != L.iloc[:, 1])
    changed = sure & cust.loc[L.index, "changed"]
    tp = int((moved & changed).sum())
    precision, recall = tp / moved.sum(), tp / changed.sum()
    assert precision >= 0.6, f"precision {precision:.3f}"
    assert recall >= 0.9, f"recall {recall:.3f}"
    # they move to the persona of their new design: map ids to designs by majority
    before = pd.crosstab(L.loc[sure].iloc[:, 0], cust.loc[sure[sure].index, "persona"])
    design = before.idxmax(axis=1)
    hit = moved & changed
    dest = L.loc[hit].iloc[:, 1].map(design)
    assert (dest == cust.loc[dest.index, "persona_after_change"]).mean() >= 0.8


# seed 311: an earlier count rule (a count with an unstable persona ended the scan) stopped at
# 3 personas there and the recall of the changes fell to 0.60; seed 396: the one model over both
# windows split the researchers in two that swapped 158 customers (reported / true migrating
# share 1.70) until split_odds refitted it with one persona fewer (1.32)
@pytest.mark.parametrize(
    ("seed", "smoothing"), [(321, "hmm"), (311, "hmm"), (396, "hmm"), (396, "margin")]
)
def test_migration_share_and_recall_on_an_unseen_seed(seed: int, smoothing: str) -> None:
    """The issue's targets on seeds no other test uses. ``smoothing="hmm"`` (the default): the
    share reported as migrating is within 1.25x of the true share of persona changes, the
    expected share (mean move probability) within 15% of it, recall >= 0.83 and precision >=
    0.8. ``"margin"``: within 1.5x and recall >= 0.9, at a lower precision. In both, the only
    persona events are the first window's births. Measured with "margin" (seeds 311-313,
    4,000 customers, 15% change): ratio 1.28 / 1.30 / 1.32, recall 0.93 / 0.94 / 0.92, six
    births each and no other event."""
    data = make_journeys(n_customers=4000, days=240, persona_change_share=0.15, random_state=seed)
    tr = track_personas(data.events, windows="120D", min_events=15, smoothing=smoothing)
    L = tr.labels
    both = L.notna().all(axis=1) & (L >= 0).all(axis=1)
    moved = both & (L.iloc[:, 0] != L.iloc[:, 1])
    changed = both & data.customers.set_index("customer_id").loc[L.index, "changed"].to_numpy()
    ratio = moved.sum() / changed.sum()
    recall = (moved & changed).sum() / changed.sum()
    found = f"ratio {ratio:.2f}, recall {recall:.3f}"
    expected = tr.movement()["expected_moved_share"].iloc[0]
    if smoothing == "hmm":
        precision_all = (moved & changed).sum() / moved.sum()
        true_share = changed.sum() / both.sum()
        assert 1 / 1.25 <= ratio <= 1.25 and recall >= 0.83, found
        assert precision_all >= 0.8, f"precision {precision_all:.3f}"
        assert abs(expected - true_share) <= 0.15 * true_share, (expected, true_share)
        # the movers list (by default 95% of the expected movers) finds at least 0.9 of the
        # changes with at most 1.5x their number: the targets for the customers
        # reported as migrating
        listed = tr.movers()
        hit = changed.reindex(listed.index).sum()
        assert hit / changed.sum() >= 0.9, f"movers' recall {hit / changed.sum():.3f}"
        assert len(listed) / changed.sum() <= 1.5, len(listed) / changed.sum()
        assert abs(listed.attrs["expected_precision"] - hit / len(listed)) <= 0.1
    else:
        assert 1 / 1.5 <= ratio <= 1.5 and recall >= 0.9, found
        assert np.isnan(expected) and tr.move_probability is None
        with pytest.raises(ConfigError, match="smoothing='hmm'"):
            tr.movers()
    # the confident moves (probability >= 0.9 in both windows) are mostly true changes
    # (measured: 0.92 on seed 391, against 0.70 for all moves), and the migration table counts
    # them per link
    sure = both & (tr.miners[0].probabilities_.reindex(L.index).fillna(0) >= 0.9)
    sure &= tr.miners[1].probabilities_.reindex(L.index).fillna(0) >= 0.9
    precision = (moved & sure & changed).sum() / (moved & sure).sum()
    assert precision >= 0.8, f"precision of the confident moves {precision:.2f}"
    mig = tr.migration
    assert (mig["confident"] <= mig["customers"]).all()
    links = mig[(mig["from_persona"] >= 0) & (mig["to_persona"] >= 0)]
    assert int(links.loc[links["from_persona"] != links["to_persona"], "confident"].sum()) == int(
        (moved & sure).sum()
    )
    # and movement() sums them per pair of windows, as the CLI prints them
    row = tr.movement().iloc[0]
    assert (row["customers"], row["moved"]) == (both.sum(), moved.sum())
    assert (row["confident"], row["confident_moved"]) == ((both & sure).sum(), (moved & sure).sum())
    # the generator has no persona births or deaths after the start; on seed 321 one "split"
    # is reported: the fading persona's few remaining members went to the researchers (its
    # designed change) and to the store-first buyers
    later = tr.events[tr.events["window"] > tr.events["window"].min()]
    assert not later["event"].isin(["birth", "death"]).any()
    assert len(later) <= 1


def test_windows_and_errors(stable_data: tuple[SyntheticJourneys, pd.DataFrame]) -> None:
    _, events = stable_data
    small = events[events["customer_id"] < "C0000500"]
    with pytest.raises(ConfigError, match="not a frequency"):
        track_personas(small, windows="fortnightly")
    with pytest.raises(ConfigError, match=r"start .* must be before end"):
        track_personas(small, windows=[("2025-03-01", "2025-02-01")])
    with pytest.raises(EmptyLogError, match="has no events"):
        track_personas(small, windows=[("2025-01-01", "2025-04-01"), ("2026-01-01", "2026-02-01")])
    with pytest.raises(ConfigError, match=r"window 0 .*too few customers"):
        track_personas(small, windows=[("2025-01-01", "2025-01-02")], min_events=5)
    with pytest.raises(ConfigError, match="rolling"):
        track_personas(small, windows=[("2025-01-01", "2025-04-01")], rolling=True)
    with pytest.raises(ConfigError, match="match_threshold"):
        track_personas(small, match_threshold=0)
    # a gap in the data: the empty automatic window is skipped with a warning
    gap = small[(small["timestamp"] < "2025-02-15") | (small["timestamp"] >= "2025-04-20")]
    with pytest.warns(DataQualityWarning) as caught:
        tr = track_personas(gap, windows="MS", min_events=5, match_threshold=0.5)
    messages = [str(w.message) for w in caught]
    assert any("has no events; it is skipped" in m for m in messages)
    # June is incomplete (the 180-day period ends on 30 June): dropped and reported
    assert any("would be incomplete" in m and "events after 2025-06-01" in m for m in messages)
    starts = list(tr.windows["start"].dt.strftime("%m"))
    assert "03" not in starts and starts[0] == "01"
    assert tr.labels.columns.is_monotonic_increasing
    assert any("incomplete='keep'" in m for m in messages)  # the fix the message names
    # incomplete="keep": June is kept, cut at the end of the log's last day; nothing warned
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        kept = track_personas(small, windows="MS", min_events=5, incomplete="keep")
    assert kept.windows["start"].dt.strftime("%m").tolist()[-1] == "06"
    assert kept.windows["end"].iloc[-1] == small["timestamp"].max().normalize() + pd.Timedelta(
        days=1
    )
    with pytest.raises(ConfigError, match="incomplete must be 'drop' or 'keep'"):
        track_personas(small, incomplete="yes")
    with pytest.raises(ConfigError, match=r"smoothing must be 'hmm' .* or 'margin'"):
        track_personas(small, smoothing="viterbi")


def test_rolling_windows_overlap(stable_data: tuple[SyntheticJourneys, pd.DataFrame]) -> None:
    _, events = stable_data
    small = events[events["customer_id"] < "C0001200"]
    tr = track_personas(small, windows="60D", rolling=True, min_events=10)
    w = tr.windows
    assert (w["end"] - w["start"] == pd.Timedelta(days=120)).all()
    assert (w["start"].diff().dropna() == pd.Timedelta(days=60)).all()
    assert np.isfinite(tr.threshold) and tr.threshold > 0


def _types(tracks: PersonaTracks) -> tuple[dict, dict]:
    """Event types per (window, previous-window persona) and per (window, new persona)."""
    starts = list(tracks.windows["start"])
    before: dict = {}
    after: dict = {}
    for r in tracks.events.itertuples():
        w = starts.index(r.window)
        for p in r.personas:
            before.setdefault((r.window, p), set()).add(r.event)
        new = set(tracks.id_maps[w].values()) - (
            set(tracks.id_maps[w - 1].values()) if w else set()
        )
        for p in set(r.into) & new:
            after.setdefault((r.window, p), set()).add(r.event)
    return before, after


def test_one_event_type_per_persona_and_window_precedence() -> None:
    """An unmatched persona whose members split is a split, not also a death; a new persona
    explained by a split is not also a birth; a merge source that split counts as the split."""
    from journeymine.personas.lineage import transition_events

    w = pd.Timestamp("2025-03-01", tz="UTC")
    # previous personas 0 (unmatched: its id 0 is not in this window) and 1 (matched -> 1);
    # 0's members go half to 1, half to the new persona 7 -> split of 0 into [1, 7]
    pl = np.array([0] * 10 + [1] * 10)
    cl = np.array([1] * 5 + [2] * 5 + [1] * 10)
    ev = pd.DataFrame(
        transition_events(pl, cl, {0: 0, 1: 1}, {1: 1, 2: 7}, [7], w, 0.25),
        columns=["window", "event", "personas", "into", "detail"],
    )
    assert ev["event"].tolist() == ["split"], ev  # neither death of 0 nor birth of 7
    assert ev.loc[0, "personas"] == [0] and ev.loc[0, "into"] == [1, 7]
    # 1 was one of the two sources of persona 1 (with 0), but 0 split: no merge is left
    # two unmatched personas whose members form one new persona: a merge, no deaths, no birth
    pl = np.array([0] * 10 + [1] * 10)
    cl = np.array([0] * 20)
    ev = pd.DataFrame(
        transition_events(pl, cl, {0: 0, 1: 1}, {0: 5}, [5], w, 0.25),
        columns=["window", "event", "personas", "into", "detail"],
    )
    assert ev["event"].tolist() == ["merge"] and ev.loc[0, "personas"] == [0, 1]
    # an unmatched persona whose members went to no persona: a death; an unexplained new
    # persona: a birth
    pl = np.array([0] * 10)
    cl = np.array([-1] * 10)
    ev = pd.DataFrame(
        transition_events(pl, cl, {0: 0}, {0: 3}, [3], w, 0.25),
        columns=["window", "event", "personas", "into", "detail"],
    )
    assert sorted(ev["event"]) == ["birth", "death"]


def test_migration_between_lasting_personas_is_no_split_or_merge() -> None:
    """Members moving between personas that exist in both windows are migration; a persona that
    goes on splits only into itself and new personas."""
    from journeymine.personas.lineage import transition_events

    w = pd.Timestamp("2025-03-01", tz="UTC")
    # 0 and 1 go on; a third of 0's members move to 1 and a third of 1's to 0
    pl = np.array([0] * 9 + [1] * 9)
    cl = np.array([0] * 6 + [1] * 3 + [1] * 6 + [0] * 3)
    assert transition_events(pl, cl, {0: 0, 1: 1}, {0: 0, 1: 1}, [], w, 0.25) == []
    # 0 goes on and a third of it forms the new persona 4: a split into [0, 4]
    cl = np.array([0] * 6 + [2] * 3 + [1] * 9)
    ev = transition_events(pl, cl, {0: 0, 1: 1}, {0: 0, 1: 1, 2: 4}, [4], w, 0.25)
    assert [(e["event"], e["personas"], e["into"]) for e in ev] == [("split", [0], [0, 4])]


def test_tracking_lists_each_persona_under_one_event_type() -> None:
    data = make_journeys(n_customers=1500, days=150, random_state=4)
    # (in 30-day windows no persona count beyond one is reproducible on this log)
    tr = track_personas(data.events, windows="50D", min_events=5)
    assert len(tr.windows) == 3 and tr.sizes.shape[1] >= 3
    before, after = _types(tr)
    # the generator has no persona birth, death, split or merge after the start: customers
    # who change persona are migration (they were reported as splits and merges before)
    later = tr.events[tr.events["window"] > tr.windows["start"].iloc[0]]
    assert later.empty, later
    assert (tr.migration["from_persona"] != tr.migration["to_persona"]).any()
    assert all(len(t) == 1 for t in before.values()), before
    assert all(len(t) == 1 for t in after.values()), after
    # every persona new in a window is explained by exactly one event
    for w in range(1, len(tr.windows)):
        new = set(tr.id_maps[w].values()) - set(tr.id_maps[w - 1].values())
        assert all((tr.windows["start"].iloc[w], p) in after for p in new)


def test_windows_labelled_by_a_reference_miner(
    stable_data: tuple[SyntheticJourneys, pd.DataFrame],
) -> None:
    """``reference=``: every window is labelled by the given miner's personas (its ids and
    names, its featurizer), not by a model fitted on the windows; a customer of a window
    with enough events gets the persona the reference gives it there."""
    from journeymine.personas import PersonaMiner

    _, events = stable_data
    events = events[events["customer_id"] < "C0001500"]  # about 1,300 customers
    ref = PersonaMiner(random_state=0, min_events=12, n_bootstrap=0).fit(events)
    before = (ref.labels_.copy(), ref.profiles_.copy())
    tr = track_personas(events, windows="90D", min_events=10, reference=ref)
    # the reference is read, never changed
    assert ref.min_events == 12 and ref.labels_.equals(before[0])
    pd.testing.assert_frame_equal(ref.profiles_, before[1])
    known = set(ref.profiles_.index)
    for col in tr.labels.columns:
        seen = set(tr.labels[col].dropna().astype(int)) - {-1}
        assert seen <= known and len(seen) >= len(known) - 1
    names = tr.names.iloc[0].dropna()
    assert names.to_dict() == {p: ref.profiles_.loc[p, "name"] for p in names.index}
    # the first window's labels are the reference's memberships of that window's features,
    # computed with its featurizer, given the next window too (smoothing="hmm"): the same
    # customers placed, nearly all in the same persona
    window = tr.miners[0]
    assert window.min_events == window.min_events_ == 10  # the window's own threshold
    n_ev = window._n_events(window.features_)
    assert (window.label_reasons_[(n_ev >= 10) & (n_ev < 12)] != "too few events").all()
    assert ((n_ev >= 10) & (n_ev < 12)).sum() > 0
    lab = window.membership(window.features_, by_evidence=True)[0]
    assert list(window.features_.columns) == list(ref.features_.columns)
    assert ((lab >= 0) == (window.labels_ >= 0)).all()
    assert (lab == window.labels_).mean() > 0.9
    with pytest.raises(ConfigError, match="reference must be a PersonaMiner"):
        track_personas(events, reference=PersonaMiner(method="density").fit(events))
    with pytest.raises(NotFittedError, match="reference is not fitted"):
        track_personas(events, reference=PersonaMiner())
    with pytest.raises(ConfigError, match="fitted on a feature table"):
        track_personas(events, reference=PersonaMiner(random_state=0).fit(ref.features_))


def test_a_persona_split_at_random_is_found_and_real_personas_are_not() -> None:
    """unstable_pair: two personas whose customers land in either at random in the next window
    (odds ratio ~1) are one persona split by noise; personas that keep their customers, even
    with a tenth migrating both ways between them, are not; a thin table never merges."""
    ids = pd.Index([f"c{i}" for i in range(600)])
    w0 = pd.Series(np.repeat([0, 1, 2], 200), index=ids)
    rng = np.random.default_rng(0)
    w1 = w0.copy()
    # 0 <-> 1: a tenth of each moves to the other (real migration, both ways)
    w1.iloc[:20], w1.iloc[200:220] = 1, 0
    # persona 2 is split at random into 2 and 3 in the next window, and back
    w1.iloc[400:] = rng.choice([2, 3], 200)
    w2 = w1.copy()
    w2.iloc[400:] = rng.choice([2, 3], 200)
    a, b, odds, upper = unstable_pair([w0, w1, w2], max_odds=4.0)
    assert (a, b) == (2, 3)
    assert upper < 4.0 and 0.5 < odds < 2.0
    # without the random split nothing is merged, though a tenth migrated each way
    assert unstable_pair([w0, w1.where(w1 < 2, 2)], max_odds=4.0) is None
    # ten customers split at random: too few to say
    small = pd.Series(rng.choice([0, 1], 10), index=ids[:10])
    assert unstable_pair([small, pd.Series(rng.choice([0, 1], 10), index=ids[:10])], 4.0) is None
    with pytest.raises(ConfigError, match="split_odds"):
        track_personas(make_journeys(200, days=60, random_state=0).events, split_odds=1.0)


def test_auto_windows_follow_the_pace_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """windows="auto" (the default): the most equal windows, covering the whole log, whose one
    model still holds as many personas as the whole log, at most as many as leave the median
    customer min_events events a window; said in the log."""
    assert window_pace(np.array([40, 50, 60]), 180, 10)[0] == 5  # 10 events: 36 days
    assert window_pace(np.array([4, 5, 6]), 180, 10)[0] == 2  # thin: two at least
    tried: list[int] = []
    assert most_windows(lambda n: tried.append(n) or n <= 3, 10) == 3 and tried == [2, 3, 4]
    assert most_windows(lambda n: n <= 4, 3) == 3  # the pace caps it
    # a log that allows many windows: found by doubling and halving, in a few calls
    for most in (5, 37, 119, 120):
        calls: list[int] = []
        assert most_windows(lambda n, m=most, c=calls: c.append(n) or n <= m, 120) == most
        assert len(calls) <= 16 and len(set(calls)) == len(calls)
    events = make_journeys(n_customers=600, days=120, random_state=3).events
    with caplog.at_level("INFO", logger="journeymine.personas.dynamic"):
        tr = track_personas(events, min_events=5)
    said = caplog.text.split("windows='auto' chose ")[1]
    n = int(said.split(" windows")[0])
    assert "whole log's" in said and len(tr.windows) == n >= 2
    # the windows tile the log's days: nothing is left out, lengths differ by a day at most
    assert tr.windows["start"].iloc[0] == events["timestamp"].min().normalize()
    assert tr.windows["end"].iloc[-1] == events["timestamp"].max().normalize() + pd.Timedelta("1D")
    assert (tr.windows["start"].iloc[1:].to_numpy() == tr.windows["end"].iloc[:-1].to_numpy()).all()
    widths = (tr.windows["end"] - tr.windows["start"]).dt.days
    assert widths.max() - widths.min() <= 1
    # one more window would hold fewer personas than the whole log (or the pace forbids it)
    k_whole = int(said.split("whole log's ")[1].split(" personas")[0])
    assert int(tr.windows["personas"].max()) <= k_whole + 1
    # rolling: each window spans two of the cuts, the last ending with the log
    caplog.clear()
    with caplog.at_level("INFO", logger="journeymine.personas.dynamic"):
        rolled = track_personas(events, min_events=5, rolling=True)
    assert len(rolled.windows) >= 1 and rolled.windows["end"].iloc[-1] == tr.windows["end"].iloc[-1]
    # the log gives the windows' own length (two cuts each), not a cut's
    days = (rolled.windows["end"] - rolled.windows["start"]).dt.days.iloc[0]
    assert f"windows of {days} days, each overlapping the next by half" in caplog.text


def test_movers_since_the_first_window_find_a_change_inside_a_middle_window() -> None:
    """Seed 492 (2,000 customers), where the automatic windows are three of 80 days that hold
    the log's six personas (given here as ``windows="80D"``: the same windows and tracks as
    ``"auto"`` picks on this log, measured equal, without searching the count again), and the
    persona changes on day 120 fall inside the middle window. The customers listed as changed
    since the first window (``movers(2, since="first")``, 95% of the expected movers) hold at
    least 0.9 of the true changes (measured 0.962 at 1.79 times their number; seed 486, 4,000
    customers: 0.948 at 1.61; the labels find 0.80 of them); the probabilities are the pair's
    own for the second window, and ``from_persona`` is the first window's label. (Three
    explicit 80-day windows on other seeds hold three personas only: `windows="auto"` would
    not choose them.)"""
    data = make_journeys(n_customers=2000, days=240, persona_change_share=0.15, random_state=492)
    tr = track_personas(data.events, windows="80D")
    assert len(tr.windows) == 3 and tr.move_since_first is not None
    assert tr.move_probability is not None
    pd.testing.assert_series_equal(tr.move_since_first.iloc[:, 0], tr.move_probability.iloc[:, 0])
    L = tr.labels
    both = L.notna().all(axis=1) & (L >= 0).all(axis=1)
    changed = both & data.customers.set_index("customer_id").loc[L.index, "changed"].to_numpy()
    listed = tr.movers(2, since="first")
    found = changed.reindex(listed.index).sum() / changed.sum()
    assert found >= 0.9, f"recall since the first window {found:.3f}"
    assert (listed["from_persona"] == L.iloc[:, 0].reindex(listed.index)).all()
    # the expected share of customers changed since the first window is close to the truth
    expected = tr.move_since_first.iloc[:, 1][both].mean()
    assert abs(expected - changed.mean() / both.mean()) <= 0.3 * changed.mean() / both.mean()
    with pytest.raises(ConfigError, match="since must be 'previous' or 'first'"):
        tr.movers(since="start")


def test_auto_windows_when_the_whole_log_holds_one_persona(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every count of windows "holds" one persona, so the count is no criterion: two windows,
    the fewest, said in the log (a log of 300 customers once got six windows of 20 days and
    four personas fitted on them, more than the whole log's one). The log: the researchers of
    a generated log who never change persona."""
    data = make_journeys(n_customers=1000, days=120, random_state=3)
    c = data.customers
    one = c.loc[(c["persona"] == "researcher") & ~c["changed"], "customer_id"]
    events = data.events[data.events["customer_id"].isin(one)]
    with caplog.at_level("INFO", logger="journeymine.personas.dynamic"):
        tr = track_personas(events, min_events=5)
    assert "the whole log holds one persona" in caplog.text
    assert len(tr.windows) == 2


def test_a_window_where_nobody_has_a_persona_is_refused_with_the_fix() -> None:
    log = make_journeys(n_customers=400, days=100, random_state=3).events
    late = log["timestamp"] >= log["timestamp"].min().normalize() + pd.Timedelta(days=50)
    thin = pd.concat([log[~late], log[late].groupby("customer_id", observed=True).head(1)])
    with pytest.raises(ConfigError, match=r"window 1 \[.*no customer has a persona") as err:
        track_personas(thin, windows="50D", incomplete="keep")
    assert "Lower min_events (e.g. min_events=3" in str(err.value)
    assert "longer windows" not in str(err.value)  # two windows: longer ones would be one


def test_thin_windows_take_the_whole_logs_count(caplog: pytest.LogCaptureFixture) -> None:
    """Where even two windows' own scan finds fewer personas than the whole log (400
    customers over 90 days: 3 against 4; bpic2012's cases: 1 against 3), the windows' model is
    fitted with the whole log's count, and only the split test may merge it (here it keeps
    all four)."""
    events = make_journeys(n_customers=400, days=90, random_state=3).events
    with caplog.at_level("INFO", logger="journeymine.personas.dynamic"):
        tr = track_personas(events, min_events=5)
    said = caplog.text.split("windows='auto' chose ")[1]
    assert "their model's own count was 3, so it is fitted with the whole log's 4" in said
    assert len(tr.windows) == 2 and (tr.windows["personas"] == 4).all()


def test_confusion_says_how_often_a_window_mistakes_each_persona(
    stable_data: tuple[SyntheticJourneys, pd.DataFrame], stable_tracks: PersonaTracks
) -> None:
    """``confusion()``: for customers a window's own events place in persona a, their mean
    probability of each persona. On customers who never change persona, each row's diagonal
    is close to the share of them whose true persona is a's (within 0.12, 0.06 on average),
    and the pair the windows confuse most is the generator's closest pair, bargain hunters
    and app loyalists."""
    data, _ = stable_data
    truth = data.customers.set_index("customer_id")["persona"]
    c = stable_tracks.confusion()
    assert np.allclose(c.sum(axis=1), 1.0) and list(c.index) == list(c.columns)
    rows = []
    for miner, ids in zip(stable_tracks.miners, stable_tracks.id_maps, strict=True):
        post = miner.window_membership_
        placed = miner.labels_.reindex(post.index) >= 0
        raw = post[placed].to_numpy().argmax(axis=1)
        rows.append(
            pd.DataFrame(
                {
                    "label": [ids.get(int(post.columns[j]), int(post.columns[j])) for j in raw],
                    "truth": truth.reindex(post.index[placed]).to_numpy(),
                }
            )
        )
    seen = pd.concat(rows)
    design = seen.groupby("label")["truth"].agg(lambda t: t.value_counts().index[0])
    right = (seen["truth"] == seen["label"].map(design)).groupby(seen["label"]).mean()
    # measured: stated 0.83 / 0.93 / 0.88 / 0.92 / 0.91 / 0.83, right 0.77 / 0.94 / 0.83 /
    # 0.97 / 0.80 / 0.80 (bargain hunters, app loyalists, store-first, researchers, support,
    # lapsing)
    gaps = np.array([c.loc[a, a] - right[a] for a in c.index])
    assert np.abs(gaps).max() < 0.12 and np.abs(gaps).mean() < 0.06, gaps
    a, b, ab, ba = c.attrs["hard_pairs"][0]
    assert {design[a], design[b]} == {"bargain_hunter", "loyal_app_buyer"}
    assert ab == c.loc[a, b] and ba == c.loc[b, a]
    assert sum(c.attrs["customers"].values()) == len(seen)
