"""Dynamic personas: refit per time window, keep persona ids stable, report what changed.

How :func:`track_personas` works
--------------------------------
1. The featurizer vocabulary (activities, channels, journeys, transitions, priors) is fitted
   **once on the whole log**, so every window's features live in the same space. Each window's
   features use only that window's events, with ``as_of`` = the window end.
2. A :class:`~journeymine.personas.PersonaMiner` is fitted per window (same parameters and
   ``random_state``). With the mixture method (``PersonaMiner(method="mixture")``) one model
   is fitted on every window's customers together instead, and each window is labelled by it:
   personas mean the same thing in every window. A customer's persona is then a hidden state
   over the windows (``smoothing="hmm"``, :mod:`journeymine.personas.window_hmm`): each
   window's memberships are the evidence, the chance of moving between two personas is learnt
   from the log, and a customer's label in a window is given every window, with the
   probability that their persona changed (relabelling noise is not migration); with
   ``refine=True``, then again with evidence refined by a classifier. ``smoothing="margin"`` moves a
   customer only when the new persona's probability exceeds the old one's by ``move_margin``.
3. **Matching** (:mod:`journeymine.personas.lineage`): with the mixture's one model, a persona
   is itself in every window (its id is its label). Per-window fits are matched: each
   persona's centroid is the mean of its members' persona-view features, standardised with
   one scaler fitted on all windows.
   Personas of consecutive windows are paired by the Hungarian algorithm
   (``scipy.optimize.linear_sum_assignment``) on centroid distance; a pair is accepted when its
   distance is below ``match_threshold`` times the typical distance between *different*
   personas of the same window (median over windows of the nearest-other-persona distance). A
   matched persona keeps its id; an unmatched one gets a new id (``birth``); an id of the
   previous window without a match ends (``death``).
4. **Splits and merges** come from member overlap between consecutive windows (customers
   labelled in both): a persona *splits* when at least two next-window personas, itself or
   new ones, each receive at least ``split_share`` of its members; personas *merge* when at
   least two previous-window personas, gone or the result itself, each give at least
   ``split_share`` of a next-window persona's members. Members moving between personas that
   exist in both windows are migration, not a split or a merge.
   Each persona gets **exactly one** event type per window transition, by precedence: a
   previous-window persona that splits is not also a merge source or a death; one that merges
   (sources that split are not counted; a merge needs two sources left) is not also a death;
   otherwise an unmatched one dies. A new persona comes from one event: a split (it is a
   branch), else a merge (its result), else a birth.
5. **Migration**: for consecutive windows, customers present in both are counted by
   (persona before, persona after); ``-1`` is "no persona".

Examples
--------
>>> from journeymine.datasets import make_journeys
>>> log = make_journeys(n_customers=800, days=120, random_state=0).events
>>> tracks = track_personas(log, windows="60D", min_events=8, n_bootstrap=0)
>>> len(tracks.windows)
2
>>> list(tracks.migration.columns)  # doctest: +NORMALIZE_WHITESPACE
['from_window', 'from_persona', 'to_window', 'to_persona', 'customers', 'confident',
 'expected_moves']
"""

from __future__ import annotations

import copy
import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

from journeymine.exceptions import ConfigError, DataQualityWarning
from journeymine.features import canonical_log, timestamps_us
from journeymine.personas.features import (
    _EPOCH,
    CustomerFeaturizer,
)
from journeymine.personas.lineage import match_windows
from journeymine.personas.miner_inputs import check_min_events, resolve_min_events
from journeymine.personas.mining import PersonaMiner
from journeymine.personas.tracks import CONFIDENT_PROBABILITY, PersonaTracks
from journeymine.personas.view import reaction_activities, split_half_reliability
from journeymine.personas.window_model import (
    WindowMoves,
    check_placed,
    check_reference,
    merge_unstable,
    pooled_model,
    refine_windows,
)
from journeymine.personas.window_refine import check_refine
from journeymine.personas.windows import (
    DAY_US,
    WindowSpec,
    most_windows,
    window_edges,
    window_features,
    window_length_text,
    window_pace,
    window_spans,
)
from journeymine.personas.windows import timestamp_of as _ts
from journeymine.schema import CUSTOMER_ID

__all__ = ["PersonaTracks", "track_personas"]


logger = logging.getLogger(__name__)


def track_personas(
    log: pd.DataFrame,
    *,
    windows: WindowSpec = "auto",
    rolling: bool = False,
    random_state: int = 0,
    min_events: int | str = "auto",
    n_bootstrap: int = 0,
    featurizer: CustomerFeaturizer | None = None,
    miner: PersonaMiner | None = None,
    match_threshold: float = 0.5,
    split_share: float = 0.25,
    incomplete: str = "drop",
    move_margin: float = 0.5,
    smoothing: str = "hmm",
    show_progress: bool = False,
    reference: PersonaMiner | None = None,
    split_odds: float | None = 4.0,
    refine: bool = False,
) -> PersonaTracks:
    """Personas per time window, with stable ids, births/deaths/splits/merges and migration.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    windows : "auto", str, DateOffset, Timedelta or list of (start, end)
        A frequency (``"30D"``, ``"MS"`` for calendar months, ``"W-MON"``...) cutting the log's
        span from its first day, or explicit ``[(start, end), ...]`` (end exclusive).
        ``"auto"`` (default): the log's days cut into equal windows covering the whole log,
        as many as still hold as many personas as the whole log (the mixture: one model on
        the whole log, then on 2, 3, ... windows until a count holds fewer, two personas that
        the windows re-identify no better than a random split, see ``split_odds``, counting
        as one; at most as many as leave the median customer ``min_events`` events a window;
        two at least, and two when the whole log holds one persona;
        :func:`~journeymine.personas.windows.most_windows`; logged). Where even two windows'
        own model finds fewer personas than the whole log, it is fitted with the whole log's
        count, and the split test merges what the windows cannot tell apart. It fits the persona
        model two or three times more than given windows (20,000 generated customers over
        240 days: 32 s against 14 s). Without a model to compare (``reference=`` or
        per-window density models): windows in which the median customer has twice
        ``min_events`` events.
        Short windows hold fewer reproducible personas and relabel more customers. Frequency
        windows ending after the day of the last event are incomplete: see
        ``incomplete``.
    rolling : bool, default False
        With a frequency: windows two periods long, moving by one period.
    random_state : int, default 0
        Seed of every window's miner.
    min_events : int or "auto", default "auto"
        Events a customer needs *in a window* to get a persona there. ``"auto"``: as
        :class:`~journeymine.personas.PersonaMiner`'s ``"auto"`` on the whole log's event
        counts: 10, or the median customer's event count where that is lower (at least 3), for
        logs of short cases (without the miner's refit at 3 when it finds one persona; pass
        ``min_events=miner.min_events_`` to use the miner's value, as ``jm personas
        --windows`` does).
    n_bootstrap : int, default 0
        Stability refits per window (see :class:`PersonaMiner`).
    featurizer : CustomerFeaturizer, optional
        Template for the features (its window parameters are replaced per window).
    miner : PersonaMiner, optional
        Template of the per-window miner (cloned; ``random_state``, ``min_events`` and
        ``n_bootstrap`` above take precedence).
    match_threshold : float, default 0.5
        Largest centroid distance for "the same persona", in multiples of the typical distance
        between different personas of a window.
    split_share : float, default 0.25
        Share of members that makes a split/merge branch.
    incomplete : {"drop", "keep"}, default "drop"
        Frequency windows ending after the day of the last event: ``"drop"`` them (except the
        first), with a :class:`DataQualityWarning` giving the events left out; ``"keep"`` them,
        cut at the end of that day (a shorter last window, so its customers have fewer events
        to reach ``min_events``). CLI: ``jm personas --incomplete keep``.
    smoothing : {"hmm", "margin"}, default "hmm"
        With the mixture method, how a customer's windows are tied together. ``"hmm"``: the
        persona is a hidden Markov chain over the windows, its migration matrix learnt from
        the log by EM; each label is the most probable persona given every window, and
        ``migration["expected_moves"]`` sums each customer's probability of having changed
        persona (:meth:`PersonaTracks.movement`: the expected share of movers). On fresh
        generator seeds 444-450 (4,000 customers, 240 days, the default windows) the share
        reported moving is 0.9-1.1 times the true share and the recall of the changes
        0.77-0.86, against 1.3-1.8 times and 0.89-0.93 with ``"margin"``. ``"margin"``: the
        hysteresis of ``move_margin``.
    move_margin : float, default 0.5
        With ``smoothing="margin"``: a customer labelled in consecutive windows moves to another
        persona only when that persona's probability exceeds the previous persona's by at
        least this much (hysteresis against relabelling noise); 0 moves on any change. The
        probabilities take the customer's evidence in the window into account (the
        likelihood raised to ``n / (n + n0)`` for ``n`` events, as in the fit), so a window
        with few events rarely moves anyone. The window features are weighted by split-half
        reliabilities measured once on the whole log (see
        ``PersonaMiner(reliability_weighting=...)``).
    show_progress : bool, default False
        Progress bar over windows.
    reference : PersonaMiner, optional
        A ``PersonaMiner(method="mixture")`` already fitted on an event log (e.g. on the whole
        log): every window is labelled by *its* personas (same ids and names, with the
        evidence weighting and ``move_margin`` above) instead of a model fitted on the
        windows' customers together, and the window features are computed with its
        featurizer. Short windows then keep the personas the whole history shows (on the
        shipped sample, 60-day windows give three personas of their own and six with the
        whole log's miner, at the price of more relabelling: 21% and 17% of the customers
        labelled in consecutive windows change persona, against 12% and 10% with the pooled
        model, where 10% truly change; on 120-day windows of 4,000 generated customers,
        seeds 312-314, the share reported as migrating is 1.28-1.34 times the true share
        against 1.32-1.36, and the recall of the changes 0.88-0.92 against 0.92-0.94);
        ``miner`` is then not used.
    split_odds : float or None, default 4.0
        With the mixture's one model over all windows (no ``reference``, no fixed
        ``n_personas`` in ``miner``): two personas whose customers consecutive windows
        re-identify with an odds ratio confidently below this (the upper end of its 95%
        interval; two real personas give tens, one persona split at random about 1) are one
        persona split by noise, or one persona that looks different early and late (a fading
        one): the two are merged into one persona (:func:`merge_personas`, the model keeps
        both shapes; a refit with one persona fewer would let EM merge another pair), and
        again while such a pair remains (logged at INFO). ``None`` keeps the model's count.
    refine : bool, default False
        With the one model and ``smoothing="hmm"``: smooth the windows again with evidence
        from a classifier of the persona view trained on the first pass's labels
        (:mod:`~journeymine.personas.window_refine`, logged). It ranks the changes better and
        reports more moves (numbers there); each view's ``window_membership_`` stays the
        model's own.

    Returns
    -------
    PersonaTracks

    Raises
    ------
    ConfigError
        Bad windows or parameters, or a window with too few customers to cluster.
    EmptyLogError
        The log is empty, or an explicitly given window has no events.

    Examples
    --------
    Three 30-day windows of 600 synthetic customers; persona 0 of every window is the same
    persona (its id is stable):

    >>> from journeymine.datasets import make_journeys
    >>> tracks = track_personas(make_journeys(600, days=90, random_state=0).events,
    ...                         windows="30D")
    >>> tracks.windows["start"].dt.strftime("%Y-%m-%d").tolist()
    ['2025-01-01', '2025-01-31', '2025-03-02']
    >>> tracks.names[0].tolist()
    ['Non-app customers', 'Non-app customers', 'Non-app customers']
    >>> tracks.events["event"].iloc[0], tracks.events["detail"].iloc[0]
    ('birth', 'first window')
    """
    log = canonical_log(log, what="track_personas")
    if not float(match_threshold) > 0:
        raise ConfigError(f"match_threshold must be > 0, got {match_threshold!r}.")
    if not 0 < float(split_share) <= 0.5:
        raise ConfigError(f"split_share must be within (0, 0.5], got {split_share!r}.")
    if incomplete not in ("drop", "keep"):
        raise ConfigError(f"incomplete must be 'drop' or 'keep', got {incomplete!r}.")
    if smoothing not in ("hmm", "margin"):
        raise ConfigError(
            f"smoothing must be 'hmm' (a hidden persona over the windows) or 'margin' "
            f"(hysteresis of move_margin), got {smoothing!r}."
        )
    if split_odds is not None and not float(split_odds) > 1.0:
        raise ConfigError(f"split_odds must be > 1 or None, got {split_odds!r}.")
    check_refine(refine, smoothing)
    check_min_events(min_events)
    counts = log[CUSTOMER_ID].value_counts().to_numpy()  # events per customer
    min_events = resolve_min_events(min_events, counts)
    t = timestamps_us(log)
    t_min, t_max = int(t.min()), int(t.max())
    auto = isinstance(windows, str) and windows == "auto"
    if auto:
        first_day = _ts(t_min).normalize()
        span_days = int((_ts(t_max).normalize() + pd.Timedelta(days=1) - first_day).days)
        day0 = int((first_day - _EPOCH) // pd.Timedelta(microseconds=1))
        step = 2 if rolling else 1

        def auto_spans(n: int) -> list[tuple[int, int]]:
            edges = [day0 + d * DAY_US for d in window_edges(span_days, n)]
            return [(edges[i], edges[i + step]) for i in range(len(edges) - step)]

        n_max, pace = window_pace(counts, span_days, int(min_events))
        # without a model to compare (a reference, or per-window density models), windows in
        # which the median customer has twice min_events events
        n_plain, pace2 = window_pace(counts, span_days, 2 * int(min_events))
        spans, explicit = auto_spans(n_plain), False
    else:
        spans, explicit = window_spans(t_min, t_max, windows, rolling)
    if not explicit and not auto:
        # the data's period ends at the end of the day of the last event
        day_end = int(
            (_ts(t_max).normalize() + pd.Timedelta(days=1) - _EPOCH) // pd.Timedelta(microseconds=1)
        )
        if incomplete == "keep":
            spans = [(a, min(b, day_end)) for a, b in spans if a < day_end]
        else:
            complete = [w for w in spans if w[1] <= day_end or w is spans[0]]
            if len(complete) < len(spans):
                cut = complete[-1][1]
                left = int((t >= cut).sum())
                warnings.warn(
                    f"the last {len(spans) - len(complete)} window(s) would be incomplete (the "
                    f"log ends {_ts(t_max)}); {left} events after {_ts(cut)} ({left / len(t):.0%})"
                    f" are not used. Pass incomplete='keep' to use them in a shorter last "
                    f"window, or explicit windows.",
                    DataQualityWarning,
                    stacklevel=2,
                )
            spans = complete

    fz: CustomerFeaturizer
    if reference is not None:
        fz = check_reference(reference)
        template = copy.copy(reference)
        # the window's own evidence decides who is labelled
        template.min_events = template.min_events_ = min_events
    else:
        fz = clone(featurizer) if featurizer is not None else CustomerFeaturizer()
        fz.set_params(start=None, end=None, window=None)
        fz.fit(log)
        template = clone(miner) if miner is not None else PersonaMiner()
        template.set_params(
            random_state=random_state, min_events=min_events, n_bootstrap=n_bootstrap
        )
    base_spec = fz.spec_
    one_model = check_refine(refine, smoothing, template.method)
    if one_model and reference is None:
        if template.exclude_activities is None:
            template.set_params(exclude_activities=sorted(reaction_activities(log)))
        if template.reliability_weighting is True:
            # windows are feature frames: rate the columns once, on the whole log's sessions
            rel = split_half_reliability(
                log,
                fz.transform,
                fz.spec_.feature_names,
                session_gap_us=int(fz.spec_.session_gap_us),
                random_state=int(random_state),
            )
            template.set_params(reliability_weighting=False if rel is None else rel.to_dict())
    if one_model and not 0.0 <= float(move_margin) <= 1.0:
        raise ConfigError(f"move_margin must be within [0, 1], got {move_margin!r}.")

    Spans = list[tuple[int, int]]

    def features_of(spans: Spans) -> tuple[list[pd.DataFrame], Spans]:
        return window_features(
            log, t, spans, base_spec, fz, explicit=explicit, show_progress=show_progress
        )

    ref: PersonaMiner | None = None
    labelled = None
    odds = None if reference is not None or template.n_personas is not None else split_odds

    def settle(
        model: PersonaMiner, f: list[pd.DataFrame], floor: int = 2
    ) -> tuple[PersonaMiner, list[PersonaMiner], WindowMoves | None]:
        return merge_unstable(
            model,
            f,
            split_odds=odds,
            move_margin=float(move_margin),
            smoothing=smoothing,
            floor=floor,
        )

    if auto and one_model and reference is None:
        # the most windows whose one model still tells apart as many personas as the whole log
        whole = [(day0, day0 + span_days * DAY_US)]
        k_whole = int(clone(template).fit(features_of(whole)[0][0]).quality_["n_personas"])
        # kept: the fits of two windows and of the most found to hold so far, the pooled
        # scan's count and, where it held, the windows as labelled (no pair left to merge)
        Labelled = tuple[PersonaMiner, list[PersonaMiner], WindowMoves | None]
        tried: dict[int, tuple[list[pd.DataFrame], Spans, PersonaMiner, int, Labelled | None]]
        tried = {}

        def holds(n: int) -> bool:
            f, u = features_of(auto_spans(n))
            fit = pooled_model(template, f, u)
            scanned = int(fit.quality_["n_personas"])
            done = None
            if scanned >= k_whole:
                # personas that the windows cannot tell apart from one split at random are
                # merged (below): they count as one
                done = settle(fit, f, floor=k_whole - 1)
                fit = done[0]
            ok = int(fit.quality_["n_personas"]) >= k_whole
            if ok or n == 2:
                for m in [m for m in tried if m != 2 and m < n]:
                    del tried[m]
                tried[n] = (f, u, fit, scanned, done if ok else None)
            return ok

        if k_whole >= 2:
            n = most_windows(holds, n_max)
            feats, used, ref, scanned, labelled = tried[n]
            thin = ""
            if scanned < k_whole:
                # even two windows' own scan finds fewer personas than the whole log (thin
                # windows, e.g. bpic2012's cases: 1 against 3): the whole log's count, and the
                # split test below merges what the windows cannot tell apart
                ref = pooled_model(clone(template).set_params(n_personas=k_whole), feats, used)
                thin = (
                    f" (even two do not: thin; their model's own count was {scanned}, so it is "
                    f"fitted with the whole log's {k_whole})"
                )
            elif int(ref.quality_["n_personas"]) < k_whole:
                thin = " (even two do not: thin)"
            logger.info(
                "track_personas: windows='auto' chose %d windows of %s: the most (at "
                "most %d, in which %s) whose one model still holds the whole log's %d "
                "personas%s",
                len(used),
                window_length_text(used, rolling),
                n_max,
                pace,
                k_whole,
                thin,
            )
        else:
            # every count of windows "holds" one persona: the fewest keep the most evidence
            n = 2
            holds(n)
            feats, used, ref, _, labelled = tried[n]
            logger.info(
                "track_personas: windows='auto' chose %d windows of %s, the fewest: the "
                "whole log holds one persona, so no count of windows can hold fewer (pass "
                "windows= to choose them)",
                len(used),
                window_length_text(used, rolling),
            )
    else:
        if auto:
            logger.info(
                "track_personas: windows='auto' chose %d windows of %s: %s",
                len(spans),
                window_length_text(spans, rolling),
                pace2,
            )
        feats, used = features_of(spans)
    miners: list[PersonaMiner] = []
    moves: WindowMoves | None = None
    if not one_model:
        for k, (a, b) in enumerate(used):
            m = clone(template)
            try:
                m.fit(feats[k])
            except ConfigError as exc:
                raise ConfigError(f"window {k} [{_ts(a)}, {_ts(b)}): {exc}") from exc
            _attach_paths(m, log, (t >= a) & (t < b))
            miners.append(m)
    else:
        if labelled is not None:  # settled while the windows were chosen
            ref, miners, moves = labelled
        else:
            if ref is None:
                ref = template if reference is not None else pooled_model(template, feats, used)
            ref, miners, moves = settle(ref, feats)
        if refine and len(miners) > 1:  # check_refine: refine implies smoothing="hmm"
            miners, refined = refine_windows(ref, feats, miners, int(random_state))
            moves = refined or moves
        names = {int(p): str(n) for p, n in ref.profiles_["name"].items()}
        for k, (m, (a, b)) in enumerate(zip(miners, used, strict=True)):
            check_placed(m, k, (a, b), int(min_events), len(used))
            _attach_paths(m, log, (t >= a) & (t < b))
            # a persona's name belongs to the model, not to a window's mix of customers
            m.profiles_["name"] = [names.get(int(p), n) for p, n in m.profiles_["name"].items()]
    return _assemble(
        feats,
        miners,
        used,
        float(match_threshold),
        float(split_share),
        same_ids=one_model,
        moves=moves,
    )


def _attach_paths(miner: PersonaMiner, log: pd.DataFrame, inside: np.ndarray) -> None:
    """Profiles of a window miner with typical paths from that window's events."""
    from journeymine.personas.profiles import persona_profiles

    miner.profiles_ = persona_profiles(
        miner.features_, miner.labels_, log=log.iloc[np.flatnonzero(inside)]
    )


def _assemble(
    feats: list[pd.DataFrame],
    miners: list[PersonaMiner],
    spans: list[tuple[int, int]],
    match_threshold: float,
    split_share: float,
    same_ids: bool = False,
    moves: WindowMoves | None = None,
) -> PersonaTracks:
    starts = [_ts(a) for a, _ in spans]
    lineage = match_windows(
        feats, [m.labels_ for m in miners], starts, match_threshold, split_share, same_ids
    )
    id_maps = lineage.id_maps

    # stable labels
    all_ids = sorted({c for f in feats for c in f.index})
    labels = pd.DataFrame(index=pd.Index(all_ids, name=CUSTOMER_ID))
    for w, m in enumerate(miners):
        stable = m.labels_.map(lambda v, mp=id_maps[w]: mp.get(int(v), -1))
        labels[starts[w]] = stable.reindex(labels.index).astype("Int64")
    labels.columns = pd.DatetimeIndex(starts, name="window")
    persona_ids = sorted({v for mp in id_maps for v in mp.values()})
    sizes = pd.DataFrame(
        [[int((labels.iloc[:, w] == p).sum()) for p in persona_ids] for w in range(len(miners))],
        index=pd.DatetimeIndex(starts, name="window"),
        columns=pd.Index(persona_ids, name="persona"),
    )
    names = pd.DataFrame("", index=sizes.index, columns=sizes.columns)
    for w, m in enumerate(miners):
        for raw, row in m.profiles_.iterrows():
            names.iloc[w, names.columns.get_loc(id_maps[w][int(raw)])] = row["name"]
    migration = []
    prob = [m.probabilities_.reindex(labels.index).fillna(0.0) for m in miners]
    for w in range(1, len(miners)):
        a, b = labels.iloc[:, w - 1], labels.iloc[:, w]
        both = a.notna() & b.notna()
        sure = (prob[w - 1] >= CONFIDENT_PROBABILITY) & (prob[w] >= CONFIDENT_PROBABILITY)
        p_move = (
            moves.previous[w - 1].reindex(labels.index)
            if moves is not None
            else pd.Series(np.nan, index=labels.index)
        )
        ct = (
            pd.DataFrame(
                {
                    "from_persona": a[both].astype(int),
                    "to_persona": b[both].astype(int),
                    "confident": sure[both].astype(int),
                    "expected_moves": p_move[both].astype(float),
                }
            )
            .groupby(["from_persona", "to_persona"])
            .agg(
                customers=("confident", "size"),
                confident=("confident", "sum"),
                expected_moves=("expected_moves", lambda v: v.sum(min_count=1)),
            )
            .reset_index()
        )
        ct.insert(0, "from_window", starts[w - 1])
        ct.insert(2, "to_window", starts[w])
        migration.append(ct)
    mig = (
        pd.concat(migration, ignore_index=True)
        if migration
        else pd.DataFrame(
            columns=[
                "from_window",
                "from_persona",
                "to_window",
                "to_persona",
                "customers",
                "confident",
                "expected_moves",
            ]
        )
    )
    win = pd.DataFrame(
        {
            "start": starts,
            "end": [_ts(b) for _, b in spans],
            "customers": [int(m.quality_["n_customers"]) for m in miners],
            "eligible": [int(m.quality_["n_eligible"]) for m in miners],
            "personas": [int(m.quality_["n_personas"]) for m in miners],
            "noise_share": [float(m.quality_["noise_share"]) for m in miners],
        }
    )
    move_probability, move_since_first = (
        (None, None)
        if moves is None
        else (
            pd.DataFrame(
                {starts[w + 1]: p[w].reindex(labels.index) for w in range(len(p))},
                index=labels.index,
            ).rename_axis(columns="window")
            for p in moves
        )
    )
    return PersonaTracks(
        win,
        labels,
        sizes,
        names,
        lineage.events,
        lineage.matches,
        mig,
        miners,
        id_maps,
        lineage.threshold,
        move_probability,
        move_since_first,
    )
