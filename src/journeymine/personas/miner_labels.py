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
    emb: np.ndarray,
    n_events: np.ndarray,
    by_evidence: bool,
    fitted_events: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Persona ids, their probabilities and every persona's probability (rows sum to 1) of
    eligible customers seen on ``n_events`` events, from their reduced view ``emb`` under a
    fitted persona ``law`` (:class:`~journeymine.personas.persona_law.PersonaLaw`) whose
    components ``mapping`` carries onto the ``k`` persona ids.

    Customers beyond the squared distance ``limit`` of their persona
    (:func:`~journeymine.personas.tails.fitted_noise_limit`) get ``-1`` and probability 0.
    ``by_evidence`` (with ``n0`` and more than one persona): the posterior tempered by each
    customer's evidence (:func:`~journeymine.personas.mixture.evidence_posterior`) towards the
    persona shares, and the label its most probable persona. The deconvolved law's posterior
    already weighs the evidence of customers like those it was fitted on (``fitted_events``
    events or more): there only thinner customers are tempered.
    """
    raw, prob, post = law.labels(emb, n_events, limit)
    post = sum_by_persona(post, mapping, k)
    post = post / np.maximum(post.sum(1, keepdims=True), 1e-300)
    labels = map_labels(raw, mapping)
    probs = np.where(labels >= 0, prob, 0.0)
    temper = np.full(len(post), law.deconvolved is None) | (np.asarray(n_events) < fitted_events)
    if by_evidence and law.n0 is not None and k > 1 and temper.any():
        share = sum_by_persona(law.weights, mapping, k)
        share = np.maximum(share / share.sum(), 1e-12)
        post[temper] = evidence_posterior(post[temper], share, n_events[temper], float(law.n0))
        kept = temper & (labels >= 0)
        labels = np.where(kept, post.argmax(1), labels)
        probs = np.where(kept, post.max(1), probs)
    return labels, probs, post
