"""Boosted trees as plain numpy arrays (one job: score fitted gradient boosting fast and safely).

A fitted :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (or regressor) is compiled
into a :class:`Forest`: every node of every tree in flat arrays. Scoring walks all trees of all
rows at once, one numpy step per tree level, so one customer costs a fraction of a millisecond
without OpenMP (scikit-learn's own ``predict_proba`` spent 5 ms on one row single-threaded and
up to 90 ms with two contended threads on the 2-core benchmark machine), and every row's result
is independent of the batch it is in. The arrays are all a saved model holds: loading one needs
no scikit-learn internals and no type beyond numpy arrays. The compiled forest equals
scikit-learn's ``predict_proba``/``predict`` to rounding (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Forest", "compile_forest"]

# the per-node arrays of a Forest, concatenated over the trees by compile_forest
_NODE_ARRAYS = (
    "feature",
    "threshold",
    "missing_left",
    "left",
    "right",
    "is_leaf",
    "value",
    "is_cat",
    "bitset",
)


@dataclass
class Forest:
    """Flat trees. ``kind``: ``"softmax"`` (multiclass), ``"sigmoid"`` (binary), ``"exp"``
    (Poisson regression)."""

    kind: str
    classes: np.ndarray  # int64 class codes (classifiers; empty for the regressor)
    baseline: np.ndarray  # float64 (n_outputs,)
    roots: np.ndarray  # int64 (n_trees,): root node of each tree, iteration-major
    feature: np.ndarray  # int64 (n_nodes,)
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    left: np.ndarray  # int64
    right: np.ndarray  # int64
    is_leaf: np.ndarray  # bool
    value: np.ndarray  # float64
    is_cat: np.ndarray  # bool
    bitset: np.ndarray  # int64 row of ``left_bits`` of a categorical node
    left_bits: np.ndarray  # uint32 (n_cat_splits, 8): categories that go left
    known_bits: np.ndarray  # uint32 (n_cat_features, 8): categories seen in training
    f_idx_map: np.ndarray  # int64 (n_features,): feature -> row of known_bits
    cat_map: np.ndarray  # float64 (n_cat_features, 256): raw category -> tree code (NaN: unseen)
    n_features: int

    @property
    def n_outputs(self) -> int:
        return len(self.baseline)

    ARRAYS = (
        "classes",
        "baseline",
        "roots",
        *_NODE_ARRAYS,
        "left_bits",
        "known_bits",
        "f_idx_map",
        "cat_map",
    )

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_features": self.n_features,
            **{k: getattr(self, k) for k in self.ARRAYS},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Forest:
        dtypes = {
            "classes": np.int64,
            "baseline": np.float64,
            "roots": np.int64,
            "feature": np.int64,
            "threshold": np.float64,
            "missing_left": bool,
            "left": np.int64,
            "right": np.int64,
            "is_leaf": bool,
            "value": np.float64,
            "is_cat": bool,
            "bitset": np.int64,
            "left_bits": np.uint32,
            "known_bits": np.uint32,
            "f_idx_map": np.int64,
            "cat_map": np.float64,
        }
        arrays = {
            k: np.ascontiguousarray(np.asarray(state[k], dtype=dtypes[k])) for k in cls.ARRAYS
        }
        forest = cls(kind=str(state["kind"]), n_features=int(state["n_features"]), **arrays)
        forest.check()
        return forest

    def check(self) -> None:
        """Refuse inconsistent arrays (a damaged file) instead of indexing out of bounds."""
        n = len(self.feature)
        same = [len(getattr(self, k)) for k in _NODE_ARRAYS if k != "feature"]
        problems = []
        if self.kind not in ("softmax", "sigmoid", "exp"):
            problems.append(f"unknown kind {self.kind!r}")
        if any(s != n for s in same):
            problems.append("node arrays of different lengths")
        inner = ~self.is_leaf
        if n and (
            (self.left[inner] < 0).any()
            or (self.left[inner] >= n).any()
            or (self.right[inner] < 0).any()
            or (self.right[inner] >= n).any()
            or (self.feature[inner] < 0).any()
            or (self.feature[inner] >= self.n_features).any()
        ):
            problems.append("node links or features out of range")
        if len(self.roots) and ((self.roots < 0).any() or (self.roots >= n).any()):
            problems.append("tree roots out of range")
        if len(self.roots) % max(self.n_outputs, 1):
            problems.append("tree count is not a multiple of the outputs")
        cat = inner & self.is_cat
        if cat.any() and (
            (self.bitset[cat] < 0).any() or (self.bitset[cat] >= len(self.left_bits)).any()
        ):
            problems.append("categorical split bitsets out of range")
        if len(self.f_idx_map) != self.n_features:
            problems.append("feature map of the wrong length")
        if (
            self.cat_map.ndim != 2
            or self.cat_map.shape[1] != 256
            or len(self.cat_map) > (self.n_features)
        ):
            problems.append("category map of the wrong shape")
        if problems:
            raise ValueError("; ".join(problems))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Sum of leaf values plus baseline, (n_rows, n_outputs)."""
        ens = self.__dict__.get("_ensemble")
        if ens is None:
            ens = self.__dict__["_ensemble"] = Ensemble({"f": self})
        return ens.raw(X)["f"]

    def predict(self, X: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """Probabilities over :attr:`classes` (classifiers, rows sum to 1, calibrated by
        ``temperature``) or the expected value (``"exp"``)."""
        return finish(self.kind, self.raw(X), temperature)


def finish(kind: str, raw: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Raw scores -> probabilities (softmax/sigmoid, temperature-scaled) or expected values."""
    if kind == "exp":
        return np.exp(raw[:, 0])
    raw = raw / temperature
    if kind == "sigmoid":
        p1 = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.column_stack([1.0 - p1, p1])
    raw = raw - raw.max(axis=1, keepdims=True)
    e = np.exp(raw)
    return e / e.sum(axis=1, keepdims=True)


class Ensemble:
    """Several forests (the heads of a model) walked together, one numpy step per tree level.

    Leaves point to themselves, so every tree takes the same number of steps; a categorical
    split reads a (split, raw category) table that already folds in scikit-learn's re-coding of
    categories and its handling of unseen ones (column 256: missing).
    """

    def __init__(self, forests: dict[str, Forest]) -> None:
        self.names = list(forests)
        self.forests = dict(forests)
        self._subsets: dict[tuple[str, ...], Ensemble] = {}
        offset, cat_offset = 0, 0
        cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "cat_row")
        }
        tables: list[np.ndarray] = []
        roots: list[np.ndarray] = []
        self.blocks: dict[str, tuple[int, int, int, np.ndarray]] = {}
        self.heads: dict[str, Any] | None = None  # the model heads this was built from (if any)
        depth = 0
        for name, f in forests.items():
            n = len(f.feature)
            ids = np.arange(n)
            leaf = f.is_leaf
            cols["feature"].append(np.where(leaf, 0, f.feature))
            cols["threshold"].append(np.where(leaf, np.inf, f.threshold))
            cols["missing_left"].append(f.missing_left & ~leaf)
            cols["left"].append(np.where(leaf, ids, f.left) + offset)
            cols["right"].append(np.where(leaf, ids, f.right) + offset)
            cat = f.is_cat & ~leaf
            row = np.full(n, -1, dtype=np.int64)
            row[cat] = np.arange(int(cat.sum())) + cat_offset
            cols["cat_row"].append(row)
            if cat.any():
                tables.append(_category_table(f, np.flatnonzero(cat)))
                cat_offset += int(cat.sum())
            start = len(np.concatenate(roots)) if roots else 0
            roots.append(f.roots + offset)
            self.blocks[name] = (start, start + len(f.roots), f.n_outputs, f.baseline)
            depth = max(depth, _max_depth(f))
            offset += n
        joined = {
            k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in cols.items()
        }
        self.feature: np.ndarray = joined["feature"]
        self.threshold: np.ndarray = joined["threshold"]
        self.missing_left: np.ndarray = joined["missing_left"]
        self.left: np.ndarray = joined["left"]
        self.right: np.ndarray = joined["right"]
        self.cat_row: np.ndarray = joined["cat_row"]
        self.value = np.concatenate([f.value for f in forests.values()])
        self.is_leaf = np.concatenate([f.is_leaf for f in forests.values()])
        self.roots = np.concatenate(roots) if roots else np.zeros(0, dtype=np.int64)
        self.table = np.concatenate(tables) if tables else np.zeros((0, 257), dtype=bool)
        self.depth = depth

    def row_scorer(self) -> _RowScorer:
        """The one-row path's tables (built on first use, or ahead of it by calling this)."""
        rows = self.__dict__.get("_row_scorer")
        if rows is None:
            rows = self.__dict__["_row_scorer"] = _RowScorer(self)
        return rows

    def _leaves(self, X: np.ndarray) -> np.ndarray:
        if len(X) <= _ROW_PATH_MAX and len(self.roots):
            rows = self.row_scorer()
            return np.stack([rows.leaves(x) for x in X]) if len(X) else self._walk(X)
        return self._walk(X)

    def _walk(self, X: np.ndarray) -> np.ndarray:
        """Leaf of every (row, tree): all trees of all rows one level at a time."""
        n_rows, n_trees = len(X), len(self.roots)
        node = np.tile(self.roots, n_rows)
        flat = X.ravel()
        base = np.repeat(np.arange(n_rows) * X.shape[1], n_trees)
        has_cat = len(self.table) > 0
        idx = np.arange(len(node))  # (row, tree) pairs not yet at a leaf
        for level in range(self.depth):
            nd = node[idx]
            v = flat[base[idx] + self.feature[nd]]
            go_left = v <= self.threshold[nd]
            nan = np.isnan(v)
            if nan.any():
                go_left[nan] = self.missing_left[nd[nan]]
            if has_cat:
                crow = self.cat_row[nd]
                c = np.flatnonzero(crow >= 0)
                if c.size:
                    cv = v[c]
                    ok = (cv >= 0) & (cv < 256)  # NaN fails both
                    code = np.where(ok, cv, 256).astype(np.int64)
                    go_left[c] = self.table[crow[c], code]
            nd = np.where(go_left, self.left[nd], self.right[nd])
            node[idx] = nd
            if level % 3 == 2:  # drop finished trees now and then (leaves point to themselves)
                idx = idx[~self.is_leaf[nd]]
                if not idx.size:
                    break
        return node.reshape(n_rows, n_trees)

    def raw(self, X: np.ndarray, only: Any = None) -> dict[str, np.ndarray]:
        """Raw scores of every forest (or of those named in ``only``), (n_rows, n_outputs)
        each."""
        if only is not None:
            names = tuple(n for n in self.names if n in only)
            if names != tuple(self.names):
                if names not in self._subsets:
                    self._subsets[names] = Ensemble({n: self.forests[n] for n in names})
                return self._subsets[names].raw(X)
        X = np.ascontiguousarray(X, dtype=np.float64)
        chunk = max(1, _CHUNK_NODES // max(len(self.roots), 1))
        out = {n: np.empty((len(X), b[2])) for n, b in self.blocks.items()}
        for s in range(0, len(X), chunk):
            vals = self.value[self._leaves(X[s : s + chunk])]
            for name, (a, b, k, baseline) in self.blocks.items():
                block = vals[:, a:b].reshape(len(vals), (b - a) // k, k)
                out[name][s : s + chunk] = baseline + block.sum(axis=1)
        return out


_CHUNK_NODES = 1 << 21  # rows x trees walked at once (bounds memory)
# up to this many rows, each row is scored by _RowScorer (a few rows: a live customer); more rows
# are walked level by level together (cheaper per row in bulk)
_ROW_PATH_MAX = 4


class _RowScorer:
    """The leaves of ONE row: every split decided at once, then a walk of plain array lookups.

    The level walk of :meth:`Ensemble._walk` reads six arrays at random node positions on each
    of ~20 levels; for one row that random access, not arithmetic, is the cost (~0.6 ms for
    2,400 trees). Here every split node is decided in three sequential passes over flat arrays
    and the walk only follows the resulting ``next node`` array:

    - the row is extended with a copy whose missing values are ``-inf`` (read by the nodes that
      send missing values left, so ``value <= threshold`` holds; the others read the row itself,
      where ``NaN <= threshold`` is false: right, also for scikit-learn's "split on missing"
      nodes whose threshold is ``+inf``) and with one 0/1 entry per categorical split node (0:
      go left), taken from a per-feature transposed decision table, so a categorical split is
      the comparison ``entry <= 0.5``;
    - nodes are renumbered inner nodes first; ``next = right - (right - left) * go_left`` for the
      inner nodes, leaves point to themselves;
    - trees are ordered by depth, so at level ``L`` only the first ``n_active[L]`` trees (those
      deeper than ``L``) are followed.

    The leaves are the same nodes :meth:`Ensemble._walk` reaches (tested on random rows with
    missing values, infinities and unseen or out-of-range categories).
    """

    def __init__(self, ens: Ensemble) -> None:
        n = len(ens.feature)
        inner = np.flatnonzero(~ens.is_leaf)
        leaves = np.flatnonzero(ens.is_leaf)
        self.n_inner = len(inner)
        new_id = np.empty(n, dtype=np.intp)
        new_id[inner] = np.arange(len(inner))
        new_id[leaves] = len(inner) + np.arange(len(leaves))
        self.old_id = np.concatenate([inner, leaves]).astype(np.intp)
        if n >= 2**31:
            raise ValueError(f"{n} tree nodes: too many for 32-bit node links")
        # next-node links in int32: the per-row arithmetic is memory-bound, half the bytes
        self.leaf_self = np.arange(len(inner), n, dtype=np.int32)
        # per categorical feature: its split nodes' decisions as a (257, nodes) table
        n_features = int(ens.feature.max()) + 1 if n else 1
        cat_nodes = inner[ens.cat_row[inner] >= 0]
        cat_feature = ens.feature[cat_nodes]
        self.cat_features = np.unique(cat_feature)
        self.cat_tables: list[np.ndarray] = []
        slot = np.empty(len(cat_nodes), dtype=np.intp)
        start = 0
        for j in self.cat_features:
            sel = np.flatnonzero(cat_feature == j)
            go_left = ens.table[ens.cat_row[cat_nodes[sel]]]  # (nodes, 257)
            self.cat_tables.append(np.ascontiguousarray((~go_left).T, dtype=np.float64))
            slot[sel] = start + np.arange(len(sel))
            start += len(sel)
        self.n_features = n_features
        read = np.where(ens.missing_left, ens.feature + n_features, ens.feature)
        threshold = ens.threshold.copy()
        read[cat_nodes] = 2 * n_features + slot
        threshold[cat_nodes] = 0.5
        self.read = read[inner].astype(np.intp)
        self.threshold = threshold[inner]
        self.right = new_id[ens.right[inner]].astype(np.int32)
        self.right_minus_left = self.right - new_id[ens.left[inner]].astype(np.int32)
        depth = _tree_depths(ens)
        self.order = np.argsort(-depth, kind="stable")
        self.unorder = np.argsort(self.order)
        self.roots = new_id[ens.roots[self.order]]
        self.n_active = [int((depth > level).sum()) for level in range(int(depth.max(initial=0)))]

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """Leaf node (ensemble numbering) of every tree for the row ``x``, in tree order."""
        if len(x) < self.n_features:  # a feature beyond the row: as scikit-learn, refuse
            raise ValueError(f"the row has {len(x)} features, the trees read {self.n_features}")
        x = x[: self.n_features]
        parts = [x, np.where(np.isnan(x), -np.inf, x)]
        if len(self.cat_features):
            v = x[self.cat_features]
            code = np.where((v >= 0) & (v < 256), v, 256).astype(np.intp)  # NaN fails both
            parts += [t[c] for t, c in zip(self.cat_tables, code, strict=True)]
        extended = np.concatenate(parts)
        go_left = np.take(extended, self.read) <= self.threshold
        nxt = np.concatenate([self.right - self.right_minus_left * go_left, self.leaf_self])
        node = self.roots.copy()
        for k in self.n_active:
            node[:k] = nxt[node[:k]]
        return self.old_id[node[self.unorder]]


def _tree_depths(ens: Ensemble) -> np.ndarray:
    """Depth of every tree of ``ens`` (edges on its longest root-to-leaf path)."""
    depth = np.zeros(len(ens.roots), dtype=np.int64)
    node = ens.roots.astype(np.intp)
    tree = np.arange(len(ens.roots))
    for level in range(len(ens.feature) + 1):  # bounded: a damaged file cannot loop forever
        inner = ~ens.is_leaf[node]
        if not inner.any():
            break
        node, tree = node[inner], tree[inner]
        depth[tree] = level + 1
        node = np.concatenate([ens.left[node], ens.right[node]])
        tree = np.concatenate([tree, tree])
    return depth


def _max_depth(f: Forest) -> int:
    """Depth of the deepest leaf."""
    depth = np.zeros(len(f.feature), dtype=np.int64)
    inner = np.flatnonzero(~f.is_leaf)
    for _ in range(len(f.feature)):  # propagate until stable (at most the depth, plus one)
        new = depth.copy()
        new[f.left[inner]] = depth[inner] + 1
        new[f.right[inner]] = depth[inner] + 1
        if np.array_equal(new, depth):
            break
        depth = new
    return int(depth.max()) if len(depth) else 0


def _category_table(f: Forest, nodes: np.ndarray) -> np.ndarray:
    """(len(nodes), 257) go-left decision per raw category code (256: missing/out of range).

    What depends on the feature alone (its category map and known categories) is computed once
    per feature; per node, only its left-category bitset is read.
    """
    out = np.empty((len(nodes), 257), dtype=bool)
    miss = f.missing_left[nodes].astype(bool)
    out[:, 256] = miss
    features = f.feature[nodes]
    for fi in np.unique(features):
        rows = np.flatnonzero(features == fi)
        cmap = f.cat_map[fi] if fi < len(f.cat_map) else np.full(256, np.nan)
        seen = ~np.isnan(cmap)
        mapped = np.where(seen, cmap, 0).astype(np.int64)
        word, bit = mapped >> 5, (mapped & 31).astype(np.uint32)
        known = seen & (((f.known_bits[f.f_idx_map[fi], word] >> bit) & 1) == 1)
        left_words = f.left_bits[f.bitset[nodes[rows]]][:, word]  # (nodes of fi, 256)
        in_left = seen & (((left_words >> bit) & 1) == 1)
        out[rows, :256] = in_left | (~known & miss[rows, None])
    return out


def compile_forest(est: Any) -> Forest:
    """The :class:`Forest` of a fitted HistGradientBoostingClassifier/Regressor."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
    is_cat = np.asarray(
        getattr(est, "is_categorical_", None)
        if est.is_categorical_ is not None
        else np.zeros(est.n_features_in_, dtype=bool),
        dtype=bool,
    )
    n_cat = int(is_cat.sum())
    if not is_cat[:n_cat].all():
        raise ValueError("categorical features must come first")
    cat_map = np.full((n_cat, 256), np.nan)
    if n_cat:
        for j, cats in enumerate(est._preprocessor.named_transformers_["encoder"].categories_):
            cats = np.asarray(cats, dtype=np.float64)
            for code, raw in enumerate(cats):
                if np.isfinite(raw) and 0 <= raw < 256:
                    cat_map[j, int(raw)] = code
    offset, bit_offset = 0, 0
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _NODE_ARRAYS}
    roots, left_bits = [], []
    for iteration in est._predictors:
        for tree in iteration:
            nodes = tree.nodes
            leaf = nodes["is_leaf"].astype(bool)
            roots.append(offset)
            parts["feature"].append(nodes["feature_idx"].astype(np.int64))
            parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["left"].append(np.where(leaf, 0, nodes["left"].astype(np.int64) + offset))
            parts["right"].append(np.where(leaf, 0, nodes["right"].astype(np.int64) + offset))
            parts["is_leaf"].append(leaf)
            parts["value"].append(nodes["value"].astype(np.float64))
            parts["is_cat"].append(nodes["is_categorical"].astype(bool))
            parts["bitset"].append(nodes["bitset_idx"].astype(np.int64) + bit_offset)
            bits = np.asarray(tree.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
            left_bits.append(bits)
            bit_offset += len(bits)
            offset += len(nodes)
    if isinstance(est, HistGradientBoostingClassifier):
        classes = np.asarray(est.classes_).astype(np.int64)
        kind = "sigmoid" if len(classes) == 2 else "softmax"
    else:
        classes = np.zeros(0, dtype=np.int64)
        kind = "exp" if est.loss == "poisson" else "identity"
        if kind != "exp":
            raise ValueError(f"only the Poisson regressor is compiled, got loss={est.loss!r}")
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    return Forest.from_state(
        {
            "kind": kind,
            "n_features": int(est.n_features_in_),
            "classes": classes,
            "baseline": np.asarray(est._baseline_prediction, dtype=np.float64).ravel(),
            "roots": np.asarray(roots, dtype=np.int64),
            **arrays,
            "left_bits": np.concatenate(left_bits) if left_bits else np.zeros((0, 8), np.uint32),
            "known_bits": np.asarray(known, dtype=np.uint32).reshape(-1, 8),
            "f_idx_map": np.asarray(f_idx_map, dtype=np.int64),
            "cat_map": cat_map,
        }
    )
