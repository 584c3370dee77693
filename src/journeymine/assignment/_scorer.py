"""The numpy scorer: calibrated probabilities of the fitted bucket models, row by row identical
whatever the batch (no BLAS), equal to scikit-learn's ``predict_proba`` to rounding (1e-12)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from journeymine.exceptions import ConfigError

__all__ = ["Scorer"]


class Scorer:
    """Calibrated probabilities of fitted ``CalibratedClassifierCV(Pipeline(StandardScaler,
    LogisticRegression))`` models, one per bucket of events seen.

    The scaler is folded into the weights and the calibration folds' weights are stacked, so a
    bucket costs one product per row. The product is an elementwise multiply summed along the
    feature axis (not BLAS): each row's result does not depend on the batch it is scored in,
    so one customer scored alone and in a batch get bit-identical probabilities.
    """

    _CHUNK = 128

    def __init__(self, estimators: Sequence[Any], edges: Sequence[int], classes: np.ndarray):
        from scipy.special import expit

        self._expit = expit
        self.edges = np.asarray(edges, dtype=np.int64)
        self.classes = np.asarray(classes, dtype=np.int64)
        if len(estimators) != len(self.edges) + 1:
            raise ConfigError(
                f"{len(estimators)} bucket models for {len(self.edges) + 1} buckets of events "
                f"seen (edges {list(self.edges)})."
            )
        self.buckets = [self._bucket_model(est) for est in estimators]

    def _bucket_model(self, calibrated: Any) -> dict[str, Any]:
        est_classes = np.asarray(calibrated.classes_, dtype=np.int64)
        out_cols = np.searchsorted(self.classes, est_classes)
        if not np.array_equal(
            self.classes[np.minimum(out_cols, len(self.classes) - 1)], est_classes
        ):
            raise ConfigError(
                f"a bucket model knows personas {est_classes.tolist()} outside the model's "
                f"classes {self.classes.tolist()}."
            )
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        cals: list[Any] = []
        method = None
        for cc in calibrated.calibrated_classifiers_:
            scaler, lr = cc.estimator[0], cc.estimator[-1]
            if not np.array_equal(np.asarray(lr.classes_, dtype=np.int64), est_classes):
                raise ConfigError(
                    "a calibration fold was trained without every persona of its bucket; "
                    "refit with fewer cv folds."
                )
            coef = np.asarray(lr.coef_, dtype=np.float64) / np.asarray(scaler.scale_)
            weights.append(coef)
            biases.append(np.asarray(lr.intercept_, dtype=np.float64) - coef @ scaler.mean_)
            method = cc.method
            if cc.method == "temperature":
                cals.append(float(cc.calibrators[0].beta_))
            elif cc.method == "isotonic":
                cals.append(
                    [
                        (np.asarray(c.X_thresholds_, float), np.asarray(c.y_thresholds_, float))
                        for c in cc.calibrators
                    ]
                )
            elif cc.method == "sigmoid":
                cals.append([(float(c.a_), float(c.b_)) for c in cc.calibrators])
            else:
                raise ConfigError(f"calibration method {cc.method!r} is not supported.")
        return {
            "cols": out_cols,
            "k": len(est_classes),
            "width": weights[0].shape[0],  # 1 for a binary logistic regression
            "W": np.ascontiguousarray(np.concatenate(weights)),
            "b": np.concatenate(biases),
            "method": method,
            "cals": cals,
        }

    def _calibrated(self, dec: np.ndarray, model: dict[str, Any]) -> np.ndarray:
        """Probabilities (n, k) from the stacked decision values (n, members * width)."""
        k, width, cals = model["k"], model["width"], model["cals"]
        n, n_members = len(dec), len(cals)
        dec = dec.reshape(n, n_members, width)
        if model["method"] == "temperature":
            logits = np.concatenate([-dec, dec], axis=2) if k == 2 else dec
            z = np.asarray(cals)[None, :, None] * logits
            z -= z.max(axis=2)[:, :, None]
            np.exp(z, out=z)
            z /= np.sum(z, axis=2)[:, :, None]
            z[(z > 1.0) & (z <= 1.0 + 1e-5)] = 1.0
            proba = z
        else:
            proba = np.zeros((n, n_members, k))
            for m, member in enumerate(cals):
                if k == 2:
                    proba[:, m, 1] = self._calibrate(dec[:, m, 0], member[0], model["method"])
                    proba[:, m, 0] = 1.0 - proba[:, m, 1]
                    continue
                for j, cal in enumerate(member):
                    proba[:, m, j] = self._calibrate(dec[:, m, j], cal, model["method"])
                den = np.sum(proba[:, m, :], axis=1)[:, None]
                uniform = np.full((n, k), 1.0 / k)
                proba[:, m, :] = np.divide(proba[:, m, :], den, out=uniform, where=den != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        # the mean over the calibration folds, added in fold order as scikit-learn does
        acc = proba[:, 0, :].copy()
        for m in range(1, n_members):
            acc += proba[:, m, :]
        acc /= n_members
        return acc

    def _calibrate(self, d: np.ndarray, cal: tuple[Any, ...], method: str) -> np.ndarray:
        if method == "isotonic":
            xt, yt = cal
            return np.interp(np.clip(d, xt[0], xt[-1]), xt, yt)
        return self._expit(-(cal[0] * d + cal[1]))

    def bucket(self, n_events: np.ndarray) -> np.ndarray:
        """Bucket of each row: ``n <= edges[0]`` -> 0, ..., ``n > edges[-1]`` -> last."""
        return np.searchsorted(self.edges, np.asarray(n_events, dtype=np.int64), side="left")

    def predict_proba(self, X: np.ndarray, n_events: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros((len(X), len(self.classes)))
        b = self.bucket(n_events)
        for i, model in enumerate(self.buckets):
            rows = np.flatnonzero(b == i) if len(self.buckets) > 1 else np.arange(len(X))
            W, bias = model["W"], model["b"]
            for lo in range(0, len(rows), self._CHUNK):
                r = rows[lo : lo + self._CHUNK]
                # same summation order for every row whatever the batch (a BLAS product is not)
                dec = np.add.reduce(X[r][:, None, :] * W[None, :, :], axis=2) + bias
                out[np.ix_(r, model["cols"])] = self._calibrated(dec, model)
        return out
