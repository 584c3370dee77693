"""The result of :func:`~journeymine.personas.track_personas`: :class:`PersonaTracks`, personas
per time window with stable ids, their births, deaths, splits and merges, and the migration of
customers between them (counts, confident counts and, with ``smoothing="hmm"``, each customer's
probability of having moved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.personas.mining import PersonaMiner

__all__ = ["CONFIDENT_PROBABILITY", "PersonaTracks", "check_recall"]

#: Persona probability in both windows that makes a customer's move (or stay) "confident".
CONFIDENT_PROBABILITY = 0.9


def check_recall(value: Any, name: str = "recall") -> float:
    """``value`` as the share of the expected movers a movers list holds, in (0, 1].

    Examples
    --------
    >>> check_recall(0.9)
    0.9
    >>> check_recall(0, "movers_recall")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: movers_recall must be within (0, 1], got 0: ...
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(
            f"{name} must be within (0, 1], got {value!r}: the share of the expected movers "
            f"to list, e.g. 0.95."
        )
    return float(value)


@dataclass
class PersonaTracks:
    """Personas per time window with stable ids, lifecycle events and migration.

    Attributes
    ----------
    windows : DataFrame
        One row per window: ``start``, ``end`` (exclusive), ``customers``, ``eligible``,
        ``personas``, ``noise_share``.
    labels : DataFrame
        Stable persona id per customer (rows) and window start (columns), nullable ``Int64``;
        ``-1`` = no persona, ``<NA>`` = no event in that window.
    sizes : DataFrame
        Customers per window (rows, window start) and stable persona id (columns).
    names : DataFrame
        Profile name per window (rows) and persona id (columns); ``""`` when absent.
    events : DataFrame
        ``window`` (start of the window where it is observed), ``event`` ("birth", "death",
        "split", "merge"), ``personas`` (ids before), ``into`` (ids after), ``detail``.
    matches : DataFrame
        Accepted and rejected pairings: ``from_window``, ``from_persona``, ``to_window``,
        ``to_persona``, ``distance``, ``shared_customers``, ``accepted``.
    migration : DataFrame
        Sankey-ready: ``from_window``, ``from_persona``, ``to_window``, ``to_persona``,
        ``customers`` (customers present in both windows) and ``confident`` (those of them
        whose persona probability is at least ``CONFIDENT_PROBABILITY``, 0.9, in both
        windows: the moves to trust; on 4,000 generated customers in 120-day windows, seed
        391, 92% of the confident moves were true persona changes against 70% of all moves
        with ``smoothing="margin"``), and ``expected_moves``, the sum of these customers'
        probabilities of having changed persona between the two windows (``smoothing="hmm"``;
        NaN with ``"margin"``).
    miners : list of PersonaMiner
        The fitted miner of each window (raw labels; see ``id_maps`` for stable ids).
    id_maps : list of dict
        Raw label -> stable id per window.
    threshold : float
        The centroid distance limit used for matching.
    move_probability : DataFrame or None
        With ``smoothing="hmm"``: per customer (rows) and window (columns, the start of the
        later window of each consecutive pair) the probability that the customer's persona
        changed from the previous window, given every window; NaN where the customer has no
        persona in one of the two. ``None`` with ``smoothing="margin"`` or per-window models.
    move_since_first : DataFrame or None
        The same per later window, for a change since the *first* window (given every window:
        a customer may have changed inside a window between them); equal to
        ``move_probability`` for the second window.

    Examples
    --------
    :func:`track_personas` returns one:

    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.personas import track_personas
    >>> tracks = track_personas(make_journeys(600, days=90, random_state=0).events,
    ...                         windows="30D")
    >>> tracks.windows.columns.tolist()
    ['start', 'end', 'customers', 'eligible', 'personas', 'noise_share']
    >>> tracks.labels.shape[1] == len(tracks.windows) == len(tracks.miners)
    True
    >>> tracks.events.columns.tolist()
    ['window', 'event', 'personas', 'into', 'detail']
    >>> moves = tracks.migration_matrix(0)  # window 0 (rows) -> window 1 (columns)
    >>> both = tracks.labels.iloc[:, :2].notna().all(axis=1)  # customers seen in both
    >>> int(moves.to_numpy().sum()) == int(both.sum())
    True
    """

    windows: pd.DataFrame
    labels: pd.DataFrame
    sizes: pd.DataFrame
    names: pd.DataFrame
    events: pd.DataFrame
    matches: pd.DataFrame
    migration: pd.DataFrame
    miners: list[PersonaMiner] = field(repr=False)
    id_maps: list[dict[int, int]] = field(repr=False)
    threshold: float = float("nan")
    move_probability: pd.DataFrame | None = field(default=None, repr=False)
    move_since_first: pd.DataFrame | None = field(default=None, repr=False)

    def movers(
        self, window: int = 1, recall: float = 0.95, since: str = "previous"
    ) -> pd.DataFrame:
        """The customers most likely to have changed persona between windows ``window - 1``
        (``since="first"``: window 0) and ``window``: the fewest that hold ``recall`` of the
        expected movers.

        The move probabilities are calibrated (on the generator the mean is within 5% of the
        true share of movers), so the expected number of movers is their sum, and the customers
        taken in decreasing probability until their sum reaches ``recall`` of it are expected
        to include that share of the true movers; the mean probability of those taken is their
        expected precision (``attrs``). The labels (:attr:`labels`) count fewer moves at a
        higher precision (on the generator they find 0.78-0.91 of the true changes at about
        their number); this list trades precision for recall. The default, 95% of the expected
        movers, allows for the probabilities' error in the tail: on fresh generator seeds
        (13 runs of 2,000-10,000 customers, 15% changing persona between two windows)
        ``recall=0.95`` finds 0.93 / 0.95 / 0.96 (min / median / max) of the true changes at
        1.28 / 1.35 / 1.47 times their number, ``recall=0.9`` only 0.86 / 0.88 / 0.92 at 1.05 /
        1.13 / 1.18 times. Where nobody changed persona the list still holds about a tenth of
        the customers (their drift between windows); ``attrs["expected_precision"]`` says so.

        Parameters
        ----------
        window : int, default 1
            Position of the later window in :attr:`windows` (1 = the second).
        recall : float, default 0.95
            Share of the expected movers to find, in (0, 1].
        since : {"previous", "first"}, default "previous"
            Changed since the previous window, or since the first (who is no longer the
            persona they were at the start: with more than two windows, a change inside a
            middle window shows here even where neither pair of neighbours is sure of it).

        Returns
        -------
        DataFrame
            Indexed by customer_id, most probable first: ``move_probability``,
            ``from_persona``, ``to_persona`` (their labels in the two windows; equal when the
            most probable persona stayed the same though a move is likely).
            ``attrs["expected_recall"]``, ``attrs["expected_precision"]``,
            ``attrs["expected_movers"]`` (the sum of all move probabilities).

        Raises
        ------
        ConfigError
            Bad ``window``, ``recall`` or ``since``, or tracks without move probabilities
            (``smoothing="margin"``).

        Examples
        --------
        >>> from journeymine.datasets import make_journeys
        >>> from journeymine.personas import track_personas
        >>> tracks = track_personas(make_journeys(600, days=90, random_state=0).events,
        ...                         windows="45D")
        >>> m = tracks.movers()
        >>> bool(m.attrs["expected_recall"] >= 0.95)
        True
        >>> bool(m["move_probability"].is_monotonic_decreasing)
        True
        """
        if since not in ("previous", "first"):
            raise ConfigError(f"since must be 'previous' or 'first', got {since!r}.")
        moves = self.move_probability if since == "previous" else self.move_since_first
        if moves is None:
            raise ConfigError(
                "these tracks have no move probabilities: track with smoothing='hmm' (the "
                "default) and the mixture method."
            )
        n = len(self.windows)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window < n:
            raise ConfigError(
                f"window must be the position of a later window, 1..{n - 1}, got {window!r}."
            )
        recall = check_recall(recall)
        p = moves.iloc[:, window - 1].dropna().sort_values(ascending=False, kind="stable")
        total = float(p.sum())
        cum = p.cumsum().to_numpy()
        take = int(np.searchsorted(cum, recall * total - 1e-12) + 1) if total > 0 else 0
        top = p.iloc[:take]
        out = pd.DataFrame(
            {
                "move_probability": top,
                "from_persona": self.labels.iloc[:, 0 if since == "first" else window - 1].reindex(
                    top.index
                ),
                "to_persona": self.labels.iloc[:, window].reindex(top.index),
            }
        )
        out.attrs.update(
            {
                "expected_movers": total,
                "expected_recall": float(top.sum() / total) if total > 0 else 1.0,
                "expected_precision": float(top.mean()) if take else float("nan"),
            }
        )
        return out

    def confusion(self) -> pd.DataFrame:
        """How well one window's events tell the personas apart: for the customers a window's
        events alone place in persona ``a`` (rows), their mean probability of each persona
        (columns), pooled over the windows.

        The latent class analysts' "average probabilities for the most likely class": the
        diagonal is how sure a window's label is, an off-diagonal cell ``(a, b)`` the expected
        share of customers a window labels ``a`` who are ``b``. The memberships are close to
        calibrated: on 4,000 generated customers who never change persona (two 90-day
        windows), a row's diagonal is within 0.11 of the share of its customers truly of that
        persona (0.83 stated and 0.77 right for the bargain hunters, 0.91 and 0.80 for the
        support-heavy callers, 0.92 and 0.97 for the researchers). A pair with large cells
        both ways is one the windows hardly tell apart: moves between them are the least
        certain, and the labels (given every window) report few of them.

        Returns
        -------
        DataFrame
            Persona ids (rows: a window's most probable persona; columns: every persona),
            rows summing to 1. ``attrs["customers"]``: customer-windows per row;
            ``attrs["hard_pairs"]``: the pairs ``(a, b, p_ab, p_ba)`` whose larger cell is at
            least 0.05, the least separable first.

        Raises
        ------
        ConfigError
            Tracks without window memberships (per-window density models).

        Examples
        --------
        >>> from journeymine.datasets import make_journeys
        >>> from journeymine.personas import track_personas
        >>> tracks = track_personas(make_journeys(600, days=90, random_state=0).events)
        >>> c = tracks.confusion()
        >>> bool(np.allclose(c.sum(axis=1), 1.0)), bool((np.diag(c) > 0.5).all())
        (True, True)
        """
        parts = []
        for miner, ids in zip(self.miners, self.id_maps, strict=True):
            post = getattr(miner, "window_membership_", None)
            if post is None:
                raise ConfigError(
                    "these tracks have no window memberships: track with the mixture method "
                    "(the default), whose one model labels every window."
                )
            placed = miner.labels_.reindex(post.index).to_numpy() >= 0
            P = post.to_numpy()[placed]
            cols = [ids.get(int(c), int(c)) for c in post.columns]
            label = np.asarray(cols)[P.argmax(axis=1)] if len(P) else np.empty(0, dtype=int)
            parts.append(pd.DataFrame(P, columns=cols).assign(_label=label))
        rows = pd.concat(parts, ignore_index=True).fillna(0.0)
        table = rows.groupby("_label").mean()
        table = table.reindex(index=table.columns).fillna(0.0)
        table.index.name, table.columns.name = "label", "persona"
        counts = rows["_label"].value_counts().reindex(table.index, fill_value=0)
        hard = []
        ids_ = list(table.index)
        for i, a in enumerate(ids_):
            for b in ids_[i + 1 :]:
                ab, ba = float(table.loc[a, b]), float(table.loc[b, a])
                if max(ab, ba) >= 0.05:
                    hard.append((int(a), int(b), ab, ba))
        hard.sort(key=lambda h: -(h[2] + h[3]))
        table.attrs.update({"customers": counts.astype(int).to_dict(), "hard_pairs": hard})
        return table

    def migration_matrix(self, from_window: int = 0, to_window: int | None = None) -> pd.DataFrame:
        """Customers by persona in window ``from_window`` (rows) and ``to_window`` (columns,
        default the next window); windows are positions in :attr:`windows`."""
        n = len(self.windows)
        to_window = from_window + 1 if to_window is None else to_window
        for w in (from_window, to_window):
            if not 0 <= w < n:
                raise ConfigError(f"window {w} does not exist; there are {n} windows (0..{n - 1}).")
        a = self.labels.iloc[:, from_window]
        b = self.labels.iloc[:, to_window]
        both = a.notna() & b.notna()
        return pd.crosstab(
            a[both].astype(int).rename("from_persona"), b[both].astype(int).rename("to_persona")
        )

    def movement(self) -> pd.DataFrame:
        """Per pair of consecutive windows, how many customers with a persona in both changed
        persona, among all of them and among the confident ones (``migration["confident"]``).

        Returns
        -------
        DataFrame
            ``from_window``, ``to_window``, ``customers`` (a persona in both windows), ``moved``,
            ``moved_share``, ``confident`` (persona probability >= ``CONFIDENT_PROBABILITY``
            in both), ``confident_moved``, ``confident_moved_share``, and
            ``expected_moved_share``: the mean probability of having changed persona (NaN with
            ``smoothing="margin"``), the share of movers that the labels' count estimates
            with noise.

        Examples
        --------
        Three windows give two rows, one per pair of consecutive windows:

        >>> from journeymine.datasets import make_journeys
        >>> from journeymine.personas import track_personas
        >>> log = make_journeys(600, days=90, random_state=0).events
        >>> m = track_personas(log, windows="30D").movement()
        >>> len(m), m.columns.tolist()[:4]
        (2, ['from_window', 'to_window', 'customers', 'moved'])
        >>> bool((m["confident_moved"] <= m["moved"]).all())
        True
        """
        mig = self.migration
        src = pd.to_numeric(mig["from_persona"])
        dst = pd.to_numeric(mig["to_persona"])
        both = mig[(src >= 0) & (dst >= 0)].assign(
            moved=lambda d: d["customers"].where(d["from_persona"] != d["to_persona"], 0),
            confident_moved=lambda d: d["confident"].where(d["from_persona"] != d["to_persona"], 0),
        )
        counts = ["customers", "moved", "confident", "confident_moved"]
        expected = ["expected_moves"] if "expected_moves" in both.columns else []
        # one grouping; min_count=1 keeps a pair whose expected moves are all NaN as NaN
        sums = both.groupby(["from_window", "to_window"], sort=True)[counts + expected].sum(
            min_count=1
        )
        out = sums[counts].astype(int).reset_index()
        out.insert(4, "moved_share", out["moved"] / out["customers"].clip(lower=1))
        out["confident_moved_share"] = out["confident_moved"] / out["confident"].clip(lower=1)
        out["expected_moved_share"] = (
            sums["expected_moves"].to_numpy() / out["customers"].clip(lower=1)
            if expected
            else np.nan
        )
        return out
