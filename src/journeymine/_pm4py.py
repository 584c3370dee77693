"""The pm4py adapter: process discovery, Petri net/BPMN conformance, BPMN and PNML files.

pm4py is licensed AGPL-3.0. This is the only journeymine module that imports it, always lazily
inside a function, so ``import journeymine`` (and the persona-assignment path) never loads it.
It is an optional dependency: ``pip install 'journeymine[pm4py]'``.

XES attribute names (``case:concept:name``, ``concept:name``, ``time:timestamp``) exist only
here: :func:`to_pm4py` converts a canonical log into the frame pm4py expects and
:func:`from_pm4py` converts back.

pm4py is used for what it alone does well (inductive and heuristics discovery, alignments and
token-based replay on Petri nets, BPMN/PNML files) and on a reduced log: the ``top_variants``
most frequent variants, chosen by our own code on a sorted log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError

__all__ = [
    "PM4PY_INSTALL_HINT",
    "ProcessModel",
    "discover_process",
    "export_bpmn",
    "export_pnml",
    "from_pm4py",
    "read_bpmn",
    "read_pnml",
    "replay",
    "start_activities",
    "to_pm4py",
]

logger = logging.getLogger(__name__)

PM4PY_INSTALL_HINT = "pip install 'journeymine[pm4py]'"
# XES attribute names: spelled here and nowhere else in journeymine
_CASE = "case:concept:name"
_ACTIVITY = "concept:name"
_TIMESTAMP = "time:timestamp"
_SKIP = ">>"  # pm4py's "no move" symbol in alignments

Algorithm = Literal["inductive", "heuristics"]
ReplayMethod = Literal["alignments", "token_replay"]


def _pm4py(purpose: str) -> Any:
    """Import pm4py or raise an ImportError that says how to install it."""
    try:
        import pm4py
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs pm4py, an optional dependency (AGPL-3.0) that is not installed. "
            f"Install it with: {PM4PY_INSTALL_HINT}"
        ) from exc
    return pm4py


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence deprecation warnings raised inside pm4py and the libraries it calls.

    They are pm4py's to fix, and under ``-W error`` they become exceptions that pm4py itself
    swallows: e.g. its soundness check catches the numpy ``matrix`` PendingDeprecationWarning
    and then refuses a sound net as "not easy sound".
    """
    with warnings.catch_warnings():
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        yield


# --- conversion -------------------------------------------------------------------------------
def _sorted_positions(log: pd.DataFrame, case: str) -> np.ndarray:
    """Row positions sorted by (case, timestamp), input order breaking ties."""
    case_codes, _ = pd.factorize(log[case].astype("str").to_numpy(dtype=object), sort=True)
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    return np.lexsort((np.arange(len(log)), ts, case_codes))


def _check_input(log: pd.DataFrame, case: str, purpose: str) -> None:
    if not isinstance(log, pd.DataFrame):
        raise EventLogError(f"{purpose} expects a pandas DataFrame, got {type(log).__name__}.")
    schema.require_columns(log, [case, schema.TIMESTAMP, schema.ACTIVITY], purpose=purpose)
    if len(log) == 0:
        raise EmptyLogError(f"the event log is empty (0 rows): nothing for {purpose}.")
    for col in (case, schema.ACTIVITY, schema.TIMESTAMP):
        if log[col].isna().any():
            raise EventLogError(
                f"{col} has {int(log[col].isna().sum())} nulls; pm4py would drop these rows. "
                f"Run jm.validate(log) first (drop_invalid=True drops them with a count)."
            )
    if not pd.api.types.is_datetime64_any_dtype(log[schema.TIMESTAMP].dtype):
        raise EventLogError(
            f"timestamp must be datetimes, got dtype {log[schema.TIMESTAMP].dtype}. Run "
            f"jm.validate(log) first."
        )


def to_pm4py(log: pd.DataFrame, *, case: str = schema.CUSTOMER_ID) -> pd.DataFrame:
    """Convert a canonical log to the frame pm4py expects (a new DataFrame).

    Rows are sorted by (case, timestamp) with input order breaking ties: pm4py assumes a
    sorted frame and silently gives wrong variants otherwise. The case column, activity and
    timestamp get pm4py's XES names; every other column is kept under its own name.

    Parameters
    ----------
    log : DataFrame
        Canonical log with ``customer_id`` (or ``case``), ``timestamp`` and ``activity``.
    case : str, default "customer_id"
        Column identifying a case (a trace), e.g. ``session_id`` or a journey instance.

    Returns
    -------
    DataFrame
        The pm4py frame, index 0..n-1.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["b", "a", "a"], "activity": ["x", "y", "x"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"], utc=True)})
    >>> to_pm4py(log).iloc[:, :2].values.tolist()
    [['a', 'x'], ['a', 'y'], ['b', 'x']]
    """
    _check_input(log, case, "conversion to pm4py")
    order = _sorted_positions(log, case)
    rows = log.iloc[order].reset_index(drop=True)
    ts = rows[schema.TIMESTAMP]
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC")
    else:
        ts = ts.dt.tz_localize("UTC")
    out = pd.DataFrame(
        {
            _CASE: rows[case].astype("str").astype(object),
            _ACTIVITY: rows[schema.ACTIVITY].astype("str").astype(object),
            _TIMESTAMP: ts,
        }
    )
    for col in rows.columns:
        if col not in (case, schema.ACTIVITY, schema.TIMESTAMP) and col not in out.columns:
            out[col] = rows[col].to_numpy()
    return out


def from_pm4py(frame: pd.DataFrame, *, validate: bool = True) -> pd.DataFrame:
    """Convert a pm4py frame (XES attribute names) back to a canonical log.

    ``case:concept:name`` becomes ``customer_id``, ``concept:name`` ``activity`` and
    ``time:timestamp`` ``timestamp``; other columns are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["a", "a"], "activity": ["x", "y"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True)})
    >>> back = from_pm4py(to_pm4py(log))
    >>> back[["customer_id", "activity"]].values.tolist()
    [['a', 'x'], ['a', 'y']]
    """
    schema.require_columns(frame, [_CASE, _ACTIVITY, _TIMESTAMP], purpose="a pm4py frame")
    taken = {schema.CUSTOMER_ID, schema.ACTIVITY, schema.TIMESTAMP}
    clash = [c for c in frame.columns if c in taken]
    if clash:
        raise EventLogError(
            f"the pm4py frame already has columns {clash}, which would collide with the "
            f"canonical names. Rename or drop them before from_pm4py."
        )
    out = frame.rename(
        columns={
            _CASE: schema.CUSTOMER_ID,
            _ACTIVITY: schema.ACTIVITY,
            _TIMESTAMP: schema.TIMESTAMP,
        }
    )
    out[schema.CUSTOMER_ID] = out[schema.CUSTOMER_ID].astype("str")
    return schema.validate(out, duplicates="keep") if validate else out


# --- models -----------------------------------------------------------------------------------
@dataclass(eq=False)
class ProcessModel:
    """A process model held as pm4py objects, with what it was built from.

    Attributes
    ----------
    algorithm : str
        ``"inductive"``, ``"heuristics"``, or ``"bpmn"``/``"pnml"`` for a model read from file.
    net, initial_marking, final_marking : pm4py objects
        The accepting Petri net (every model has one; conformance uses it).
    process_tree : pm4py ProcessTree or None
        Only for the inductive miner.
    bpmn : pm4py BPMN or None
        The BPMN diagram (None when pm4py could not convert the net).
    activities : tuple of str
        Sorted labels of the visible transitions.
    n_cases, n_variants : int or None
        Cases and variants of the log given to discovery (None for a model read from file).
    n_cases_used, n_variants_used : int or None
        Cases and variants actually mined after the ``top_variants`` reduction.
    """

    algorithm: str
    net: Any
    initial_marking: Any
    final_marking: Any
    process_tree: Any = None
    bpmn: Any = None
    activities: tuple[str, ...] = ()
    n_cases: int | None = None
    n_variants: int | None = None
    n_cases_used: int | None = None
    n_variants_used: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def coverage(self) -> float | None:
        """Share of the log's cases whose variant was mined (None for a model read from file)."""
        if not self.n_cases or self.n_cases_used is None:
            return None
        return self.n_cases_used / self.n_cases

    def __repr__(self) -> str:
        used = ""
        if self.n_cases is not None:
            used = (
                f", mined {self.n_variants_used}/{self.n_variants} variants covering "
                f"{self.n_cases_used}/{self.n_cases} cases"
            )
        return (
            f"ProcessModel(algorithm={self.algorithm!r}, {len(self.activities)} activities, "
            f"{len(self.net.places)} places, {len(self.net.transitions)} transitions{used})"
        )


def _labels(net: Any) -> tuple[str, ...]:
    return tuple(sorted({str(t.label) for t in net.transitions if t.label is not None}))


def _variant_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Case labels and one hashable variant key per case of a sorted pm4py frame."""
    cases = frame[_CASE].to_numpy(dtype=object)
    codes, _ = pd.factorize(frame[_ACTIVITY].to_numpy(dtype=object))
    codes = codes.astype(np.int32)
    starts = np.flatnonzero(np.r_[True, cases[1:] != cases[:-1]])
    keys = np.array(
        [part.tobytes() for part in np.split(codes, starts[1:])],
        dtype=object,
    )
    return cases[starts], keys


def _log_variants(log: pd.DataFrame, case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case labels (sorted), one variant key per case (bytes of int32 activity codes, events
    in time order, input order breaking ties) and the activity names of the codes."""
    case_codes, case_names = pd.factorize(log[case].astype("str"), sort=True)
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    order = np.lexsort((np.arange(len(log)), ts, case_codes))
    cc = case_codes[order]
    act_codes, act_names = pd.factorize(log[schema.ACTIVITY].astype("str"))
    ac = act_codes[order].astype(np.int32)
    starts = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
    keys = np.array([part.tobytes() for part in np.split(ac, starts[1:])], dtype=object)
    names = np.asarray(case_names, dtype=object)[cc[starts]]
    return names, keys, np.asarray(act_names, dtype=object)


def _inductive_tree(variants: Counter[tuple[str, ...]], noise_threshold: float) -> Any:
    """The inductive miner (IMf with noise, IM without) on variant counts.

    pm4py's public entry point only takes an event log or a DataFrame and recomputes the
    variants from it; we hand it the counted variants directly, which is what it builds
    internally (and is far cheaper on millions of events). Falls back to the public entry on
    a one-case-per-event frame if pm4py's internals moved.
    """
    params: dict[str, Any] = {
        "noise_threshold": noise_threshold,
        "multiprocessing": False,
        "disable_fallthroughs": False,
    }
    try:
        from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL
        from pm4py.algo.discovery.inductive.variants.im import IMUVCL
        from pm4py.algo.discovery.inductive.variants.imf import IMFUVCL
        from pm4py.objects.process_tree.utils.generic import fold, tree_sort
    except ImportError:  # pragma: no cover - depends on the pm4py version
        import pm4py

        rows = [
            (f"{i}_{j}", pos, act)
            for i, (variant, count) in enumerate(variants.items())
            for j in range(count)
            for pos, act in enumerate(variant)
        ]
        frame = pd.DataFrame(rows, columns=[_CASE, "pos", _ACTIVITY])
        frame[_TIMESTAMP] = pd.to_datetime(frame["pos"], unit="s", utc=True)
        return pm4py.discover_process_tree_inductive(frame, noise_threshold=noise_threshold)
    miner = IMFUVCL(params) if noise_threshold > 0 else IMUVCL(params)
    tree = fold(miner.apply(IMDataStructureUVCL(variants), params))
    tree_sort(tree)
    return tree


def discover_process(
    log: pd.DataFrame,
    *,
    algorithm: Algorithm = "inductive",
    top_variants: int | None = None,
    noise_threshold: float = 0.0,
    dependency_threshold: float = 0.5,
    case: str = schema.CUSTOMER_ID,
) -> ProcessModel:
    """Discover a process model (Petri net, process tree, BPMN) with pm4py on a reduced log.

    Parameters
    ----------
    log : DataFrame
        Canonical log. Each ``case`` value is one trace; events are ordered by timestamp with
        input order breaking ties (the input need not be sorted).
    algorithm : {"inductive", "heuristics"}, default "inductive"
        The inductive miner (sound, block-structured; gives a process tree too) or the
        heuristics miner (frequency-based; no process tree).
    top_variants : int, optional
        Mine only the cases of the ``top_variants`` most frequent variants (ties broken by
        first appearance). ``None`` mines every case. The model records the coverage.
    noise_threshold : float, default 0.0
        Inductive miner only (IMf): share of infrequent behaviour filtered out, in [0, 1).
    dependency_threshold : float, default 0.5
        Heuristics miner only: minimal dependency measure of an arc, in [0, 1].
    case : str, default "customer_id"
        Column identifying a trace.

    Returns
    -------
    ProcessModel

    Raises
    ------
    ImportError
        pm4py is not installed.
    ConfigError
        An argument is out of range.

    Notes
    -----
    Variants are counted by journeymine (integer codes, one sort). The inductive miner is
    given the counted variants, which is what pm4py builds internally from a log, so the tree
    is the one ``pm4py.discover_process_tree_inductive`` finds on the (reduced) log, without
    pm4py reading millions of rows. The heuristics miner is given the reduced log.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a"] * 3 + ["b"] * 3,
    ...     "timestamp": pd.to_datetime([1, 2, 3, 1, 2, 3], unit="D", utc=True),
    ...     "activity": ["visit", "cart", "buy", "visit", "cart", "buy"]})
    >>> model = discover_process(log)
    >>> model.activities
    ('buy', 'cart', 'visit')
    """
    if algorithm not in ("inductive", "heuristics"):
        raise ConfigError(
            f"algorithm={algorithm!r} is not supported; use 'inductive' or 'heuristics'."
        )
    if top_variants is not None and (
        isinstance(top_variants, bool)
        or not isinstance(top_variants, int | np.integer)
        or top_variants < 1
    ):
        raise ConfigError(f"top_variants must be a positive integer or None, got {top_variants!r}.")
    if not 0.0 <= float(noise_threshold) < 1.0:
        raise ConfigError(f"noise_threshold must be in [0, 1), got {noise_threshold!r}.")
    if not 0.0 <= float(dependency_threshold) <= 1.0:
        raise ConfigError(f"dependency_threshold must be in [0, 1], got {dependency_threshold!r}.")
    if algorithm == "heuristics" and noise_threshold:
        raise ConfigError(
            "noise_threshold applies to the inductive miner only; for the heuristics miner "
            "raise dependency_threshold instead."
        )
    _check_input(log, case, "discover_process")
    case_ids, keys, act_names = _log_variants(log, case)
    counts = Counter(keys.tolist())
    n_cases, n_variants = len(case_ids), len(counts)
    kept = counts.most_common(top_variants) if top_variants is not None else list(counts.items())
    n_variants_used = len(kept)
    n_cases_used = int(sum(c for _, c in kept))
    pm4py = _pm4py("discover_process")
    tree = None
    with _quiet():
        if algorithm == "inductive":
            variants = Counter(
                {tuple(act_names[np.frombuffer(k, dtype=np.int32)].tolist()): c for k, c in kept}
            )
            tree = _inductive_tree(variants, float(noise_threshold))
            net, im, fm = pm4py.convert_to_petri_net(tree)
            bpmn = pm4py.convert_to_bpmn(tree)
        else:
            keep_keys = {k for k, _ in kept}
            keep_cases = case_ids[np.fromiter((k in keep_keys for k in keys), bool, len(keys))]
            sub = log[[case, schema.TIMESTAMP, schema.ACTIVITY]]
            sub = sub[sub[case].astype("str").isin(set(keep_cases.tolist())).to_numpy()]
            net, im, fm = pm4py.discover_petri_net_heuristics(
                to_pm4py(sub, case=case),
                dependency_threshold=float(dependency_threshold),
                activity_key=_ACTIVITY,
                timestamp_key=_TIMESTAMP,
                case_id_key=_CASE,
            )
            try:
                bpmn = pm4py.convert_to_bpmn(net, im, fm)
            except Exception as exc:  # pm4py raises various errors on nets it cannot convert
                logger.warning("pm4py could not convert the heuristics net to BPMN: %s", exc)
                bpmn = None
    logger.info(
        "discovered a %s model from %d of %d cases (%d of %d variants)",
        algorithm,
        n_cases_used,
        n_cases,
        n_variants_used,
        n_variants,
    )
    return ProcessModel(
        algorithm=algorithm,
        net=net,
        initial_marking=im,
        final_marking=fm,
        process_tree=tree,
        bpmn=bpmn,
        activities=_labels(net),
        n_cases=n_cases,
        n_variants=n_variants,
        n_cases_used=n_cases_used,
        n_variants_used=n_variants_used,
        params={
            "top_variants": top_variants,
            "noise_threshold": noise_threshold,
            "dependency_threshold": dependency_threshold,
            "case": case,
        },
    )


# --- files ------------------------------------------------------------------------------------
def _with_suffix(path: str | os.PathLike[str], suffix: str) -> Path:
    """``path``, with ``suffix`` appended unless it already ends with it (any case)."""
    target = Path(path)
    return target if target.suffix.lower() == suffix else target.with_name(target.name + suffix)


def _check_model(model: Any, what: str) -> ProcessModel:
    if not isinstance(model, ProcessModel):
        raise ConfigError(
            f"{what} expects a ProcessModel (from discover_process, read_bpmn or read_pnml), "
            f"got {type(model).__name__}."
        )
    return model


def export_bpmn(
    model: ProcessModel, path: str | os.PathLike[str], *, layout: bool | None = None
) -> Path:
    """Write the model as a BPMN 2.0 file and return its path.

    Parameters
    ----------
    model : ProcessModel
    path : str or path-like
        Target file; ``.bpmn`` is appended when missing.
    layout : bool, optional
        Add diagram coordinates (needs the Graphviz ``dot`` program). Default: when ``dot``
        is on the PATH. Without a layout the file holds the process but no drawing positions.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["a", "a"], "activity": ["visit", "buy"],
    ...     "timestamp": pd.to_datetime([1, 2], unit="D", utc=True)})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = export_bpmn(discover_process(log), f"{d}/journey.bpmn")
    ...     read_bpmn(path).activities
    ('buy', 'visit')
    """
    model = _check_model(model, "export_bpmn")
    if model.bpmn is None:
        raise ConfigError(
            f"this {model.algorithm} model has no BPMN diagram (pm4py could not convert its "
            f"Petri net); export it with export_pnml instead."
        )
    pm4py = _pm4py("export_bpmn")
    target = _with_suffix(path, ".bpmn")
    if layout is None:
        layout = shutil.which("dot") is not None
    with _quiet():
        pm4py.write_bpmn(model.bpmn, str(target), auto_layout=bool(layout))
    return target


def export_pnml(model: ProcessModel, path: str | os.PathLike[str]) -> Path:
    """Write the model's accepting Petri net as a PNML file and return its path.

    Parameters
    ----------
    model : ProcessModel
    path : str or path-like
        Target file; ``.pnml`` is appended when missing.

    Examples
    --------
    The net read back behaves as the one written: journeys start with a call or a visit.

    >>> import tempfile, pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
    ...     "activity": ["visit", "buy", "call", "buy"],
    ...     "timestamp": pd.to_datetime([1, 2, 1, 2], unit="D", utc=True)})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = export_pnml(discover_process(log), f"{d}/journey")
    ...     path.name, start_activities(read_pnml(path))
    ('journey.pnml', ('call', 'visit'))
    """
    model = _check_model(model, "export_pnml")
    pm4py = _pm4py("export_pnml")
    target = _with_suffix(path, ".pnml")
    with _quiet():
        pm4py.write_pnml(model.net, model.initial_marking, model.final_marking, str(target))
    return target


def _existing(path: str | os.PathLike[str], kind: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no {kind} file at {p}. Check the path.")
    return p


def read_bpmn(path: str | os.PathLike[str]) -> ProcessModel:
    """Read a BPMN 2.0 file (e.g. a designed journey drawn in a BPMN editor).

    The diagram is converted to an accepting Petri net for conformance checking; the
    activities are the names of its tasks.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ConfigError
        The file is not a BPMN diagram pm4py can read, or it has no named task.
    """
    p = _existing(path, "BPMN")
    pm4py = _pm4py("read_bpmn")
    from lxml import etree

    try:  # check the XML first: pm4py leaves the file open when it fails to parse it
        root = etree.parse(str(p)).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise ConfigError(
            f"could not read {p} as a BPMN 2.0 diagram: it is not XML ({exc}). Export it "
            f"again from the modelling tool as BPMN 2.0 XML."
        ) from exc
    if etree.QName(root).localname != "definitions":
        raise ConfigError(
            f"{p} is XML but not a BPMN 2.0 diagram (root element "
            f"{etree.QName(root).localname!r}, expected 'definitions')."
        )
    try:
        with _quiet():
            bpmn = pm4py.read_bpmn(str(p))
            net, im, fm = pm4py.convert_to_petri_net(bpmn)
    except Exception as exc:  # lxml/pm4py raise many kinds on malformed files
        raise ConfigError(
            f"could not read {p} as a BPMN 2.0 diagram ({type(exc).__name__}: {exc}). Export "
            f"it again from the modelling tool as BPMN 2.0 XML."
        ) from exc
    labels = _labels(net)
    if not labels:
        raise ConfigError(f"{p} has no named task: a designed journey needs named activities.")
    return ProcessModel("bpmn", net, im, fm, bpmn=bpmn, activities=labels)


def read_pnml(path: str | os.PathLike[str]) -> ProcessModel:
    """Read an accepting Petri net from a PNML file (written by :func:`export_pnml` or ProM)."""
    p = _existing(path, "PNML")
    pm4py = _pm4py("read_pnml")
    try:
        net, im, fm = pm4py.read_pnml(str(p))
    except Exception as exc:
        raise ConfigError(f"could not read {p} as PNML ({type(exc).__name__}: {exc}).") from exc
    try:
        bpmn = pm4py.convert_to_bpmn(net, im, fm)
    except Exception as exc:
        logger.info("no BPMN view of %s: %s", p, exc)
        bpmn = None
    return ProcessModel("pnml", net, im, fm, bpmn=bpmn, activities=_labels(net))


# --- conformance ------------------------------------------------------------------------------
def start_activities(model: ProcessModel, *, max_markings: int = 10_000) -> tuple[str, ...]:
    """Labels of the visible transitions that can fire first (after silent steps).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "b", "b"],
    ...     "activity": ["visit", "buy", "call", "buy"],
    ...     "timestamp": pd.to_datetime([1, 2, 1, 2], unit="D", utc=True)})
    >>> start_activities(discover_process(log))
    ('call', 'visit')
    """
    model = _check_model(model, "start_activities")
    _pm4py("start_activities")
    from pm4py.objects.petri_net import semantics

    seen = {frozenset(model.initial_marking.items())}
    todo = [model.initial_marking]
    labels: set[str] = set()
    while todo and len(seen) < max_markings:
        marking = todo.pop()
        for t in semantics.enabled_transitions(model.net, marking):
            if t.label is not None:
                labels.add(str(t.label))
                continue
            nxt = semantics.execute(t, model.net, marking)
            key = frozenset(nxt.items())
            if key not in seen:
                seen.add(key)
                todo.append(nxt)
    return tuple(sorted(labels))


def replay(
    model: ProcessModel,
    traces: pd.DataFrame,
    *,
    case: str,
    method: ReplayMethod = "alignments",
    show_progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replay traces on the model's Petri net: fitness and deviations per case.

    Parameters
    ----------
    model : ProcessModel
    traces : DataFrame
        Events with ``case``, ``timestamp`` and ``activity`` (need not be sorted).
    case : str
        Column identifying a trace.
    method : {"alignments", "token_replay"}, default "alignments"
        Optimal alignments (exact deviations, slower) or token-based replay (fast, fitness
        from missing/remaining tokens).
    show_progress : bool, default False
        Show pm4py's progress bar.

    Returns
    -------
    cases : DataFrame
        ``case``, ``n_events``, ``cost`` (alignment cost; NaN for token replay) and ``fitness``
        (pm4py's trace fitness), in order of first appearance of the case.
    deviations : DataFrame
        ``case``, ``position`` (0-based index in the trace before which the move happens),
        ``type`` and ``activity``. Alignments give ``"unexpected"`` (a move on the log: the
        event was not allowed there) and ``"skipped"`` (a visible move on the model: a step
        the design requires is missing). Token replay gives ``"not_enabled"`` (the activity
        fired without its input tokens) and ``"incomplete"`` (tokens left at the end).
    """
    model = _check_model(model, "replay")
    if method not in ("alignments", "token_replay"):
        raise ConfigError(f"method={method!r}; use 'alignments' or 'token_replay'.")
    pm4py = _pm4py("conformance checking on a Petri net/BPMN")
    frame = to_pm4py(traces, case=case)
    case_ids, _ = _variant_keys(frame)
    sizes = frame.groupby(_CASE, sort=False).size()
    keys_kw = {"activity_key": _ACTIVITY, "timestamp_key": _TIMESTAMP, "case_id_key": _CASE}
    # the log and the accepting net, as both of pm4py's replays take them
    log_and_net = (frame, model.net, model.initial_marking, model.final_marking)
    # one tuple per case (case, n_events, cost, fitness) and per deviation (case, position,
    # type, activity), in the columns' order
    rows: list[tuple[Any, int, float, float]] = []
    devs: list[tuple[Any, float, str, str | None]] = []
    if method == "alignments":
        with _quiet():
            result = pm4py.conformance_diagnostics_alignments(
                *log_and_net, show_progress_bar=show_progress, **keys_kw
            )
        for cid, res in zip(case_ids, result, strict=True):
            pos = 0
            for log_label, model_label in res["alignment"]:
                if log_label == _SKIP:
                    if model_label is not None and model_label != _SKIP:
                        devs.append((cid, pos, "skipped", str(model_label)))
                    continue
                if model_label == _SKIP:
                    devs.append((cid, pos, "unexpected", str(log_label)))
                pos += 1
            rows.append((cid, int(sizes[cid]), float(res["cost"]) // 10000, float(res["fitness"])))
    else:
        with _quiet():
            result = pm4py.conformance_diagnostics_token_based_replay(
                *log_and_net, opt_parameters={"show_progress_bar": show_progress}, **keys_kw
            )
        for cid, res in zip(case_ids, result, strict=True):
            devs.extend(
                (cid, np.nan, "not_enabled", str(t.label)) for t in res["transitions_with_problems"]
            )
            if res["remaining_tokens"]:
                devs.append((cid, np.nan, "incomplete", None))
            rows.append((cid, int(sizes[cid]), np.nan, float(res["trace_fitness"])))
    cases = pd.DataFrame(rows, columns=["case", "n_events", "cost", "fitness"])
    deviations = pd.DataFrame(devs, columns=["case", "position", "type", "activity"])
    return cases, deviations
