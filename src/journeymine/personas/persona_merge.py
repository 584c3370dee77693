"""Two personas of a fitted mixture miner made one, without refitting.

A persona of the mixture is a set of its Gaussian components (the component -> persona
mapping of :mod:`~journeymine.personas.persona_ids`), so two personas are merged by mapping
both sets onto one id: the components keep their shapes, and a customer's membership of the
merged persona is the sum of its memberships of the two. Refitting with one persona fewer
instead lets EM choose which two personas to merge, and it often merges another pair: on a
log where a fading persona looks different early and late, the refit keeps the two looks
apart and merges two personas the windows tell apart well.
"""

from __future__ import annotations

import copy

import numpy as np

from journeymine.exceptions import ConfigError
from journeymine.personas.miner_labels import persona_centroids
from journeymine.personas.mining import PersonaMiner
from journeymine.personas.persona_ids import label_mapping, relabel_by_size, sum_by_persona

__all__ = ["merge_personas"]


def merge_personas(miner: PersonaMiner, a: int, b: int) -> PersonaMiner:
    """A copy of the fitted mixture ``miner`` in which personas ``a`` and ``b`` are one.

    Persona ids are renumbered by decreasing size, as after a fit; labels, probabilities,
    centroids, profiles (and their names) and ``quality_["n_personas"]`` follow. Noise and
    customers with too few events stay as they were: the outlier test is per component.

    Parameters
    ----------
    miner : PersonaMiner
        Fitted with ``method="mixture"``; it is not changed.
    a, b : int
        Two different persona ids of ``miner``.

    Returns
    -------
    PersonaMiner

    Raises
    ------
    ConfigError
        ``miner`` is no fitted mixture, or ``a``/``b`` are not two of its persona ids.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.personas import PersonaMiner
    >>> log = make_journeys(n_customers=600, days=90, random_state=0).events
    >>> m = PersonaMiner(n_bootstrap=0, min_events=5, random_state=0).fit(log)
    >>> k = m.quality_["n_personas"]
    >>> merged = merge_personas(m, 0, 1)
    >>> merged.quality_["n_personas"] == k - 1
    True
    >>> both = m.labels_.isin([0, 1])
    >>> bool((merged.labels_[both] == merged.labels_[both].iloc[0]).all())
    True
    >>> _, _, post = merged.membership(merged.features_)
    >>> bool(np.allclose(post.sum(axis=1)[merged.labels_ >= 0], 1.0))
    True
    """
    if miner.method != "mixture" or getattr(miner, "mixture_", None) is None:
        raise ConfigError("merge_personas needs a PersonaMiner(method='mixture') after fit().")
    k = int(miner.quality_["n_personas"])
    ids_ok = all(isinstance(p, int | np.integer) and not isinstance(p, bool) for p in (a, b))
    if not (ids_ok and 0 <= int(a) < k and 0 <= int(b) < k and int(a) != int(b)):
        raise ConfigError(
            f"personas to merge must be two different ids in 0..{k - 1}, got {a!r} and {b!r}."
        )
    _, _, post_old = miner.membership(miner.features_)
    into = np.arange(k)
    into[int(b)] = int(a)
    old = miner.labels_.to_numpy()
    labels = relabel_by_size(np.where(old >= 0, into[np.maximum(old, 0)], -1))
    renumber = label_mapping(old, labels)  # old persona id -> new id

    out = copy.copy(miner)
    out._mapping = {comp: renumber[p] for comp, p in miner._mapping.items()}
    out.labels_ = miner.labels_.copy()
    out.labels_[:] = labels
    post = sum_by_persona(post_old.to_numpy(), renumber, k - 1)
    probs = miner.probabilities_.copy()
    rows = np.flatnonzero(labels >= 0)
    probs.iloc[rows] = post[rows, labels[rows]]
    out.probabilities_ = probs
    eligible = miner.label_reasons_.to_numpy() != "too few events"
    el = labels[eligible]
    out.centroids_ = persona_centroids(out.embedding_, el)
    out.quality_ = {**miner.quality_, "n_personas": k - 1, "noise_share": float((el < 0).mean())}
    out._profile(None)
    return out
