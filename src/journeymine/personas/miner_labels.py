"""The persona labels a :class:`~journeymine.personas.PersonaMiner` gives customers: the fit's
raw labels of the eligible customers turned into one persona id per customer (numbered by size,
with the reason of each ``-1``) and the personas' centroids, and a fitted mixture's soft
memberships of customers, summed onto persona ids and, when asked, tempered by how many events
each customer was seen on.

Examples
--------
>>> import pandas as pd
>>> ids = pd.Index(["a", "b", "c", "d"], name="customer_id")
>>> eligible = np.array([True, True, True, False])
>>> labels, probs, reasons = customer_labels(ids, eligible, np.array([3, 3, -1]), np.ones(3))
>>> labels.tolist(), reasons.tolist()
([0, 0, -1, -1], ['persona', 'persona', 'noise', 'too few events'])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine.personas.mixture import evidence_posterior
from journeymine.personas.persona_ids import map_labels, relabel_by_size, sum_by_persona
from journeymine.personas.persona_law import PersonaLaw

__all__ = ["customer_labels", "mixture_membership", "persona_centroids"]


def customer_labels(
    ids: pd.Index, eligible: np.ndarray, raw: np.ndarray, prob: np.ndarray
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The ``labels_``, ``probabilities_`` and ``label_reasons_`` of a fit: the eligible
    customers' ``raw`` labels and ``prob`` confidences spread over every customer ``ids``
    (``-1`` and 0 for the ineligible), persona ids numbered by size
    (:func:`~journeymine.personas.persona_ids.relabel_by_size`), and the reason of each label:
    ``"persona"``, ``"noise"`` or ``"too few events"``.
    """
    labels = np.full(len(ids), -1, dtype=np.int64)
    probs = np.zeros(len(ids))
    labels[np.flatnonzero(eligible)] = raw
    probs[np.flatnonzero(eligible)] = prob
    labels = relabel_by_size(labels)
    reasons = np.where(labels >= 0, "persona", np.where(eligible, "noise", "too few events"))
    return (
        pd.Series(labels, index=ids, name="persona"),
        pd.Series(probs, index=ids, name="probability"),
        pd.Series(reasons, index=ids, name="reason").astype("str"),
    )


def persona_centroids(embedding: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Mean reduced coordinates per persona id (rows ``0..max(labels)``), from the eligible
    customers' ``embedding`` and persona ``labels``.

    Examples
    --------
    >>> emb = pd.DataFrame({"c0": [0.0, 2.0, 5.0], "c1": [1.0, 1.0, 9.0]})
    >>> persona_centroids(emb, np.array([0, 0, -1])).to_dict("list")
    {'c0': [1.0], 'c1': [1.0]}
    """
    emb = embedding.to_numpy()
    return pd.DataFrame(
        [emb[labels == p].mean(0) for p in range(int(labels.max()) + 1)],
        columns=embedding.columns,
    ).rename_axis("persona")


def mixture_membership(
    law: PersonaLaw,
    limit: float,
    mapping: dict[int, int],
    k: int,
    customers: tuple[np.ndarray | None, np.ndarray, np.ndarray, pd.Index],
    by_evidence: bool,
    fitted_events: int = 1,
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Persona ids, their probabilities and every persona's probability (eligible rows sum to
    1) of ``customers``: the eligible ones' reduced view (``None`` when none is), every
    customer's events, which are eligible, and their ids. Under a fitted persona ``law``
    (:class:`~journeymine.personas.persona_law.PersonaLaw`) whose components ``mapping``
    carries onto the ``k`` persona ids; ineligible customers get ``-1`` and no memberships.

    Customers beyond the squared distance ``limit`` of their persona
    (:func:`~journeymine.personas.tails.fitted_noise_limit`) get ``-1`` and probability 0.
    ``by_evidence`` (with ``n0`` and more than one persona): the posterior tempered by each
    customer's evidence (:func:`~journeymine.personas.mixture.evidence_posterior`) towards the
    persona shares, and the label its most probable persona. The deconvolved law's posterior
    already weighs the evidence of customers like those it was fitted on (``fitted_events``
    events or more): there only thinner customers are tempered.
    """
    emb, n_all, eligible, index = customers
    post = np.zeros((len(index), k))
    labels = np.full(len(index), -1, dtype=np.int64)
    probs = np.zeros(len(index))
    rows = np.flatnonzero(eligible)
    if emb is not None and len(rows):
        n_events = np.asarray(n_all)[rows]
        raw, prob, p = law.labels(emb, n_events, limit)
        p = sum_by_persona(p, mapping, k)
        p = p / np.maximum(p.sum(1, keepdims=True), 1e-300)
        lab = map_labels(raw, mapping)
        pr = np.where(lab >= 0, prob, 0.0)
        temper = np.full(len(p), law.deconvolved is None) | (n_events < fitted_events)
        if by_evidence and law.n0 is not None and k > 1 and temper.any():
            share = sum_by_persona(law.weights, mapping, k)
            share = np.maximum(share / share.sum(), 1e-12)
            p[temper] = evidence_posterior(p[temper], share, n_events[temper], float(law.n0))
            kept = temper & (lab >= 0)
            lab = np.where(kept, p.argmax(1), lab)
            pr = np.where(kept, p.max(1), pr)
        labels[rows], probs[rows], post[rows] = lab, pr, p
    return (
        pd.Series(labels, index=index, name="persona"),
        pd.Series(probs, index=index, name="probability"),
        pd.DataFrame(post, index=index, columns=pd.RangeIndex(k, name="persona")),
    )
