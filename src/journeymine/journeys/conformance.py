"""Conformance: do real journeys follow the designed journey?

A designed journey is given as

- a **sequence** of activities (``["email_sent", "email_open", "visit", "purchase"]``),
- a small **graph**: a dict ``activity -> allowed next activities`` with ``start``/``end``
  activities, or
- a **BPMN file** (``.bpmn``), a **PNML file** or a :class:`~journeymine._pm4py.ProcessModel`
  (e.g. from :func:`~journeymine._pm4py.discover_process`), checked with pm4py.

Sequences and graphs are checked by our own code (no pm4py needed) with optimal alignments:
each case's trace is aligned to the closest path of the design with three kinds of moves,
*synchronous* (the event is the next designed step; cost 0), *move on the log* (an event the
design does not allow there; cost 1) and *move on the model* (a designed step that did not
happen; cost 1). The **fitness** of a case is

    fitness = 1 - cost / (n_events + shortest_design_path)

the definition pm4py uses for alignments: 1 for a case that follows the design exactly, 0 when
nothing matches. Deviations are the non-synchronous moves: ``"unexpected"`` (move on the log),
``"skipped"`` (move on the model) and ``"wrong_order"`` (the same activity is both skipped at
one place and unexpected at another: it happened, but not where the design wanted it; one row
replaces the pair).

Which events are checked: by default (``ignore_other=True``) only events whose activity the
design names; other activities (a ``search`` inside a journey that does not mention it) are
counted in ``n_ignored``, not as deviations. With ``journey=`` the log is cut into journey
instances (:func:`journey_instances`): each outbound touch of that ``journey_id`` starts an
instance that runs until the next touch of the same journey or ``window``; events tagged with
another journey are left out of the instance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    did_you_mean,
)
from journeymine.journeys._common import case_order, check_window, segment_labels, sort_cases
from journeymine.journeys._design import (
    Design,
    Graph,
    Move,
    activity_names,
    align,
    check_activities,
    load_design,
    pair_wrong_order,
)

__all__ = ["ConformanceResult", "check_conformance", "journey_instances"]

logger = logging.getLogger(__name__)

Method = Literal["auto", "alignments", "token_replay"]

DEVIATION_TYPES = ("unexpected", "skipped", "wrong_order")


# --- journey instances --------------------------------------------------------------------------
def journey_instances(
    log: pd.DataFrame,
    journey: str,
    *,
    window: str | pd.Timedelta | None = "7D",
    touch_activities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Cut each customer's log into instances of one designed journey.

    An instance starts at each touch of ``journey`` (an event whose ``journey_id`` is
    ``journey`` and, when ``touch_activities`` is given, whose activity is one of them) and
    runs until the customer's next touch of the same journey or ``window`` after the touch,
    whichever comes first. It holds the customer's events in that span except those tagged
    with another journey (they belong to that journey). Events outside any instance are left
    out.

    Parameters
    ----------
    log : DataFrame
        Canonical log with ``journey_id``. Need not be sorted.
    journey : str
        The ``journey_id`` of the designed journey, e.g. ``"welcome"``.
    window : str or Timedelta or None, default "7D"
        Longest instance; ``None``: until the next touch of the journey (or the end of the log).
    touch_activities : list of str, optional
        Activities that start an instance (e.g. ``["email_sent"]``). Default: the activities
        of the customers' first events tagged with ``journey`` (the outbound touches, not the
        responses to them). :func:`check_conformance` passes the design's first steps.

    Returns
    -------
    DataFrame
        The instance events sorted by (customer, time), with ``instance`` (str,
        ``"<customer_id>#<n>"``, n counting from 1) and ``instance_start``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a"] * 5,
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03",
    ...                                  "2025-01-20", "2025-01-21"], utc=True),
    ...     "activity": ["email_sent", "visit", "email_sent", "email_sent", "visit"],
    ...     "journey_id": ["welcome", None, "holiday", "welcome", None]})
    >>> journey_instances(log, "welcome")[["instance", "activity"]].values.tolist()
    [['a#1', 'email_sent'], ['a#1', 'visit'], ['a#2', 'email_sent'], ['a#2', 'visit']]
    """
    log = schema.canonical_log(log)
    schema.require_columns(log, [schema.JOURNEY_ID], purpose="cutting journey instances")
    win = None if window is None else check_window(window, "window")
    j_codes, j_names = pd.factorize(log[schema.JOURNEY_ID])  # null -> -1
    known = sorted(str(j) for j in j_names)
    if journey not in known:
        raise ConfigError(
            f"journey {journey!r} does not occur in the journey_id column."
            f"{did_you_mean(journey, known)} Journeys in the log: {known}."
        )
    order = case_order(log)
    jc = j_codes[order]
    has_jid = jc >= 0
    tagged = jc == [str(j) for j in j_names].index(journey)
    act_codes, act_names = pd.factorize(log[schema.ACTIVITY], use_na_sentinel=False)
    act_names = np.asarray([str(a) for a in act_names], dtype=object)
    act = act_codes[order]
    cust_codes, cust_names = pd.factorize(log[schema.CUSTOMER_ID], use_na_sentinel=False)
    codes = cust_codes[order]
    if touch_activities is None:
        first_of_cust = np.r_[True, codes[tagged][1:] != codes[tagged][:-1]]
        touch_codes = np.unique(act[tagged][first_of_cust])
    else:
        names = activity_names(touch_activities, "touch_activities")
        touch_codes = np.flatnonzero(np.isin(act_names, names))
    is_touch = tagged & np.isin(act, touch_codes)
    n = len(order)
    pos = np.arange(n)
    # latest touch at or before each event, within the customer
    first_row = np.r_[True, codes[1:] != codes[:-1]]
    seg_start = np.maximum.accumulate(np.where(first_row, pos, 0))
    last_touch = np.maximum.accumulate(np.where(is_touch, pos, -1))
    inside = last_touch >= seg_start
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]")[order]
    touch_ts = ts[np.where(inside, last_touch, 0)]
    if win is not None:
        inside &= (ts - touch_ts) < win.to_timedelta64()
    keep = inside & ~(has_jid & ~tagged)  # events of another journey belong to it
    counted = np.cumsum(is_touch)
    number = counted - (counted[seg_start] - is_touch[seg_start])
    out = log.iloc[order[keep]].reset_index(drop=True)
    cust = np.asarray([str(c) for c in cust_names], dtype=object)[codes[keep]]
    label = pd.Series(cust, dtype="str") + "#" + pd.Series(number[keep]).astype("str")
    out["instance"] = label.astype("str")
    out["instance_start"] = pd.Series(pd.to_datetime(touch_ts[keep]).tz_localize("UTC")).astype(
        schema.TIMESTAMP_DTYPE
    )
    return out


# --- result -------------------------------------------------------------------------------------
@dataclass
class ConformanceResult:
    """Per-case fitness and deviations of a log against a designed journey.

    Attributes
    ----------
    cases : DataFrame
        One row per case (a journey instance, a customer or the ``case`` column's values):
        ``case``, ``customer_id``, ``start``, ``end``, ``n_events`` (events checked),
        ``n_ignored`` (events of activities the design does not name), ``cost`` (number of
        deviating moves; NaN for token replay), ``fitness`` in [0, 1], ``n_deviations``,
        ``fitting`` (fitness == 1) and ``segment`` when a segment was given.
    deviations : DataFrame
        One row per deviation: ``case``, ``customer_id``, ``position`` (0-based index in the
        checked trace), ``type`` (``"unexpected"``, ``"skipped"``, ``"wrong_order"``; with token
        replay ``"not_enabled"``/``"incomplete"``; ``"empty"`` for a case with no checked
        event on a pm4py model) and ``activity``; plus ``segment``.
    by_type : DataFrame
        ``type``, ``activity``, ``deviations`` (count), ``cases`` (cases with it) and
        ``share_of_cases``, most frequent first.
    by_segment : DataFrame or None
        Per segment: ``cases``, ``fitness_mean``, ``fitting_share``, ``deviations_per_case``
        and the count of each deviation type per case.
    design : str
        What was checked (kind and activities).
    method : str
        ``"alignments"`` (own code), ``"pm4py_alignments"`` or ``"pm4py_token_replay"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.journeys import check_conformance
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "b"], "activity": ["visit", "buy", "buy"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"], utc=True)})
    >>> result = check_conformance(log, ["visit", "buy"])
    >>> result.cases["fitness"].round(2).tolist(), round(result.fitness, 2)
    ([1.0, 0.67], 0.83)
    >>> result.by_type["type"].tolist()  # b never visited
    ['skipped']
    """

    cases: pd.DataFrame
    deviations: pd.DataFrame
    by_type: pd.DataFrame
    by_segment: pd.DataFrame | None
    design: str
    method: str

    @property
    def fitness(self) -> float:
        """Mean fitness over cases."""
        return float(self.cases["fitness"].mean()) if len(self.cases) else float("nan")

    def __repr__(self) -> str:
        return (
            f"ConformanceResult({len(self.cases)} cases, mean fitness {self.fitness:.3f}, "
            f"{len(self.deviations)} deviations, design={self.design})"
        )


def _by_type(deviations: pd.DataFrame, n_cases: int) -> pd.DataFrame:
    cols = ["type", "activity", "deviations", "cases", "share_of_cases"]
    if deviations.empty:
        return pd.DataFrame(columns=cols)
    d = deviations.assign(activity=deviations["activity"].astype(object).fillna(""))
    g = d.groupby(["type", "activity"], sort=True)
    out = pd.DataFrame({"deviations": g.size(), "cases": g["case"].nunique()}).reset_index()
    out["share_of_cases"] = out["cases"] / max(n_cases, 1)
    out = out.sort_values(
        ["deviations", "type", "activity"], ascending=[False, True, True], kind="stable"
    )
    return out.reset_index(drop=True)[cols]


def _by_segment(cases: pd.DataFrame, deviations: pd.DataFrame) -> pd.DataFrame:
    g = cases.groupby("segment", sort=True)
    out = pd.DataFrame(
        {
            "cases": g.size(),
            "fitness_mean": g["fitness"].mean(),
            "fitting_share": g["fitting"].mean(),
            "deviations_per_case": g["n_deviations"].mean(),
        }
    )
    types = sorted(deviations["type"].unique().tolist()) if len(deviations) else []
    for typ in dict.fromkeys([*DEVIATION_TYPES, *types]):
        counts = deviations.loc[deviations["type"] == typ].groupby("segment").size()
        out[f"{typ}_per_case"] = counts.reindex(out.index, fill_value=0) / out["cases"]
    return out.reset_index()


# --- main entry ---------------------------------------------------------------------------------
def check_conformance(
    log: pd.DataFrame,
    design: Design,
    *,
    journey: str | None = None,
    window: str | pd.Timedelta | None = "7D",
    touch_activities: Sequence[str] | None = None,
    case: str = schema.CUSTOMER_ID,
    start: Sequence[str] | None = None,
    end: Sequence[str] | None = None,
    segment: str | Mapping[Any, Any] | pd.Series | None = None,
    ignore_other: bool = True,
    method: Method = "auto",
    strict: bool = True,
    show_progress: bool = False,
) -> ConformanceResult:
    """Check real journeys against a designed journey: fitness per case, deviations, aggregates.

    Parameters
    ----------
    log : DataFrame
        Canonical log (need not be sorted).
    design : list of str, dict, path or ProcessModel
        The designed journey: an ordered list of activities; a dict ``activity -> allowed
        next activities`` (with ``start``/``end``); a ``.bpmn`` or ``.pnml`` file; or a
        :class:`~journeymine._pm4py.ProcessModel`. Files and models need pm4py.
    journey : str, optional
        Check instances of this designed journey (a ``journey_id`` value), cut by
        :func:`journey_instances`. Without it, each value of ``case`` is one case.
    window : str or Timedelta or None, default "7D"
        Longest journey instance (with ``journey`` only).
    touch_activities : list of str, optional
        Activities that start an instance (with ``journey`` only). Default: the design's
        first activities (a sequence's first step, a graph's start activities, a model's
        first visible activities).
    case : str, default "customer_id"
        Column identifying a case when ``journey`` is not given (e.g. ``session_id``).
    start, end : list of str, optional
        First and last activities of a designed graph. Default: activities without a
        predecessor, and without a successor.
    segment : str or mapping, optional
        A column (its value at the case's first event) or a mapping customer -> segment;
        adds ``segment`` to the tables and fills ``by_segment``.
    ignore_other : bool, default True
        Check only events whose activity the design names; ``False`` checks every event (an
        activity the design does not name is then always ``"unexpected"``).
    method : {"auto", "alignments", "token_replay"}, default "auto"
        ``"auto"``: alignments (own code for sequences and graphs, pm4py for models).
        ``"token_replay"`` (pm4py token-based replay) applies to BPMN/Petri designs only.
    strict : bool, default True
        A design activity absent from the log raises :class:`UnknownActivityError`; with
        ``False`` a :class:`DataQualityWarning` is given and the check goes on.
    show_progress : bool, default False
        Show pm4py's progress bar (models only).

    Returns
    -------
    ConformanceResult

    Raises
    ------
    UnknownActivityError
        The design names an activity absent from the log (``strict=True``).
    ConfigError
        An argument is invalid (unknown journey, empty design, bad window...).

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(n_customers=200, days=60, random_state=0)
    >>> steps = ["email_sent", "email_open", "email_click", "visit", "view_product"]
    >>> res = check_conformance(data.events, steps, journey="post_purchase_tips")
    >>> 0 <= res.fitness <= 1
    True
    >>> res.by_type.iloc[0]["type"]
    'skipped'
    >>> check_conformance(data.events, ["visit", "purchase"]).cases["fitness"].between(0, 1).all()
    np.True_
    """
    log = schema.canonical_log(log)
    if method not in ("auto", "alignments", "token_replay"):
        raise ConfigError(
            f"method={method!r} is not supported; use 'auto', 'alignments' or 'token_replay'."
        )
    model = load_design(design, start, end)
    graph = model if isinstance(model, Graph) else None
    pmodel = None if isinstance(model, Graph) else model
    if graph is not None and method == "token_replay":
        raise ConfigError(
            "method='token_replay' needs a BPMN/Petri net design; sequences and graphs are "
            "checked with alignments (method='auto')."
        )
    if graph is not None:
        design_acts = list(dict.fromkeys(graph.labels))
        desc = f"{graph.kind} of {len(graph.labels)} steps"
    else:
        assert pmodel is not None
        design_acts = list(pmodel.activities)
        desc = f"{pmodel.algorithm} model of {len(design_acts)} activities"
    log_acts = log[schema.ACTIVITY].astype("str").unique().tolist()
    check_activities(design_acts, log_acts, strict=strict)

    if journey is not None:
        if touch_activities is None:
            if graph is not None:
                touch_activities = sorted({graph.labels[v] for v in graph.start})
            else:
                from journeymine import _pm4py

                assert pmodel is not None
                touch_activities = list(_pm4py.start_activities(pmodel))
        events = journey_instances(log, journey, window=window, touch_activities=touch_activities)
        case_col = "instance"
        if events.empty:
            raise EmptyLogError(
                f"no instance of journey {journey!r} starts with {list(touch_activities)}; "
                f"check touch_activities or the design's first step."
            )
    else:
        if touch_activities is not None:
            raise ConfigError("touch_activities applies with journey=... only.")
        schema.require_columns(log, [case], purpose="check_conformance(case=...)")
        if log[case].isna().any():
            raise EventLogError(
                f"the case column {case!r} has {int(log[case].isna().sum())} nulls; every "
                f"event needs a case."
            )
        events = sort_cases(log, case)
        case_col = case
    seg = segment_labels(events, segment) if segment is not None else None

    case_codes, case_ids = pd.factorize(events[case_col].astype("str").to_numpy(dtype=object))
    acts = events[schema.ACTIVITY].astype("str").to_numpy(dtype=object)
    relevant = np.isin(acts, design_acts) if ignore_other else np.ones(len(events), dtype=bool)
    ts = events[schema.TIMESTAMP]
    grp = pd.Series(case_codes)
    cases = pd.DataFrame(
        {
            "case": pd.Series(np.asarray(case_ids, dtype=object), dtype="str"),
            schema.CUSTOMER_ID: events.groupby(case_codes, sort=True)[schema.CUSTOMER_ID]
            .first()
            .astype("str")
            .to_numpy(),
            "start": ts.groupby(case_codes, sort=True).min().to_numpy(),
            "end": ts.groupby(case_codes, sort=True).max().to_numpy(),
            "n_events": grp[relevant]
            .groupby(case_codes[relevant])
            .size()
            .reindex(range(len(case_ids)), fill_value=0)
            .to_numpy(),
            "n_ignored": grp[~relevant]
            .groupby(case_codes[~relevant])
            .size()
            .reindex(range(len(case_ids)), fill_value=0)
            .to_numpy(),
        }
    )
    cases["start"] = cases["start"].astype(schema.TIMESTAMP_DTYPE)
    cases["end"] = cases["end"].astype(schema.TIMESTAMP_DTYPE)

    dev_rows: list[tuple[int, Any, str, str | None]] = []
    if graph is not None:
        method_used = "alignments"
        shortest = graph.shortest_path()
        rel_codes = case_codes[relevant]
        rel_acts = acts[relevant]
        bounds = (
            np.flatnonzero(np.r_[True, rel_codes[1:] != rel_codes[:-1]])
            if len(rel_codes)
            else np.array([], dtype=np.int64)
        )
        traces: list[tuple[str, ...]] = [()] * len(case_ids)
        for k, part in zip(bounds, np.split(rel_acts, bounds[1:]), strict=True):
            traces[int(rel_codes[k])] = tuple(part.tolist())
        cache: dict[tuple[str, ...], tuple[int, list[Move]]] = {}
        costs = np.zeros(len(case_ids), dtype=np.int64)
        for c, trace in enumerate(traces):
            if trace not in cache:
                cost, moves = align(trace, graph)
                cache[trace] = (cost, pair_wrong_order(moves))
            costs[c] = cache[trace][0]
            dev_rows.extend((c, pos, typ, act) for typ, pos, act in cache[trace][1])
        logger.info("aligned %d cases (%d distinct traces)", len(traces), len(cache))
        cases["cost"] = costs.astype(float)
        cases["fitness"] = 1.0 - costs / (cases["n_events"].to_numpy() + shortest)
    else:
        from journeymine import _pm4py

        assert pmodel is not None
        pm_method: _pm4py.ReplayMethod = (
            "token_replay" if method == "token_replay" else "alignments"
        )
        method_used = f"pm4py_{pm_method}"
        sub = pd.DataFrame(
            {
                "case": case_codes[relevant],
                schema.TIMESTAMP: events.loc[relevant, schema.TIMESTAMP].to_numpy(),
                schema.ACTIVITY: acts[relevant],
            }
        )
        cases["cost"] = np.nan
        cases["fitness"] = 0.0
        if len(sub):
            sub["case"] = sub["case"].astype("str")
            res, devs = _pm4py.replay(
                pmodel, sub, case="case", method=pm_method, show_progress=show_progress
            )
            idx = res["case"].astype(int).to_numpy()
            cases.loc[idx, "cost"] = res["cost"].to_numpy()
            cases.loc[idx, "fitness"] = res["fitness"].to_numpy()
            by_case: dict[int, list[Move]] = {}
            for code, pos, typ, act in devs.itertuples(index=False):
                by_case.setdefault(int(code), []).append((typ, pos, act))
            for code, case_moves in by_case.items():
                if pm_method == "alignments":
                    case_moves = pair_wrong_order(case_moves)
                dev_rows.extend((code, pos, typ, act) for typ, pos, act in case_moves)
        for empty in np.flatnonzero(cases["n_events"].to_numpy() == 0):
            dev_rows.append((int(empty), np.nan, "empty", None))
            if pm_method == "alignments":
                cases.loc[empty, "cost"] = np.nan

    dev = pd.DataFrame(dev_rows, columns=["code", "position", "type", "activity"])
    dev = dev.sort_values(["code", "position"], kind="stable", na_position="last")
    deviations = pd.DataFrame(
        {
            "case": cases["case"].to_numpy()[dev["code"].to_numpy(dtype=np.int64)],
            schema.CUSTOMER_ID: cases[schema.CUSTOMER_ID].to_numpy()[
                dev["code"].to_numpy(dtype=np.int64)
            ],
            "position": dev["position"].to_numpy(),
            "type": dev["type"].to_numpy(dtype=object),
            "activity": dev["activity"].to_numpy(dtype=object),
        }
    )
    for col in ("case", schema.CUSTOMER_ID, "type"):
        deviations[col] = deviations[col].astype("str")
    deviations["position"] = pd.array(deviations["position"], dtype="Int64")
    n_dev = np.bincount(dev["code"].to_numpy(dtype=np.int64), minlength=len(cases))
    cases["n_deviations"] = n_dev
    cases["fitting"] = cases["fitness"].to_numpy() >= 1.0 - 1e-12
    by_segment = None
    if seg is not None:
        first_seg = seg.groupby(case_codes, sort=True).first().astype("str").to_numpy()
        cases["segment"] = first_seg
        deviations["segment"] = first_seg[dev["code"].to_numpy(dtype=np.int64)]
        deviations["segment"] = deviations["segment"].astype("str")
        by_segment = _by_segment(cases, deviations)
    return ConformanceResult(
        cases=cases,
        deviations=deviations.reset_index(drop=True),
        by_type=_by_type(deviations, len(cases)),
        by_segment=by_segment,
        design=desc,
        method=method_used,
    )
