"""The elastic net (ridge/lasso-like) house model, fitted by FISTA in NumPy.

NumPy rather than torch: the fit is a few thousand 300x300 matrix-vector products, which
NumPy does as fast, and a stage that trains only this model then never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require

from . import CurveSets, Scorer

CURVE_POINTS = 60  # iterations recorded for the curves, log-spaced (convergence is fast, then slow)


def _soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


@dataclass
class ElasticNetParams:
    """Ridge/lasso-like linear model, fitted by accelerated proximal gradient (FISTA) in NumPy.

    Objective as scikit-learn's ElasticNet: 1/(2n)·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1−r)/2·‖w‖²);
    r = l1_ratio (1: lasso, 0: ridge). Full-batch and float64, so it converges to the optimum.
    """

    type: Literal["elastic_net"]
    alpha: float = 0.0005
    l1_ratio: float = 1.0
    max_iter: int = 20000
    tol: float = 1e-7

    def validate(self, where: str) -> None:
        require(self.alpha >= 0, f"{where}.alpha", f"must be >= 0, got {self.alpha}")
        require(0 <= self.l1_ratio <= 1, f"{where}.l1_ratio", f"must be in [0, 1], got {self.l1_ratio}")
        require(self.max_iter >= 1, f"{where}.max_iter", f"must be >= 1, got {self.max_iter}")


class ElasticNet:
    Params = ElasticNetParams

    def __init__(self, params: ElasticNetParams, n_features: int, seed: int):
        self.params, self.n_features = params, n_features
        self.weight = np.zeros(n_features)
        self.bias = 0.0
        self.iterations = 0

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        """Minimise 1/(2n)·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1−r)/2·‖w‖²).

        With `curves` and `score`, records the objective and each set's score at ~60
        log-spaced iterations (`step` = iteration), so MLflow shows the convergence.
        """
        p = self.params
        x, t = np.asarray(X, np.float64), np.asarray(y, np.float64)
        x_mean, t_mean = x.mean(0), t.mean()
        xc, tc = x - x_mean, t - t_mean  # the intercept is not penalised: fit it by centring
        n = len(t)
        l1, l2 = p.alpha * p.l1_ratio, p.alpha * (1 - p.l1_ratio)
        gram, corr = xc.T @ xc / n, xc.T @ tc / n  # the gradient needs only these: features², not rows
        tt = float(tc @ tc) / n
        lipschitz = float(np.linalg.eigvalsh(gram)[-1]) + l2
        step = 1.0 / lipschitz if lipschitz > 0 else 0.0  # 0: constant features, nothing to learn
        w = np.zeros(x.shape[1])
        z, momentum = w.copy(), 1.0
        record = set(np.unique(np.geomspace(1, p.max_iter, CURVE_POINTS).astype(int)).tolist())
        history: dict[str, list[float]] = {}
        track = bool(curves and score)

        def snapshot(iteration: int) -> None:
            self.weight, self.bias = w, t_mean - float(x_mean @ w)
            objective = 0.5 * (tt - 2 * corr @ w + w @ gram @ w) + l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w)
            point = {"step": iteration, "objective": float(objective)}
            point.update({f"{name}_log_rmse": score(yy, self.predict(xx)) for name, (xx, yy) in curves.items()})
            for key, value in point.items():
                history.setdefault(key, []).append(float(value))

        for self.iterations in range(1, p.max_iter + 1):
            grad = gram @ z - corr + l2 * z
            w_next = _soft_threshold(z - step * grad, step * l1) if l1 > 0 else z - step * grad
            momentum_next = (1 + (1 + 4 * momentum ** 2) ** 0.5) / 2
            z = w_next + ((momentum - 1) / momentum_next) * (w_next - w)
            change = float(np.abs(w_next - w).max())
            w, momentum = w_next, momentum_next
            converged = change < p.tol
            if track and (self.iterations in record or converged or self.iterations == p.max_iter):
                snapshot(self.iterations)
            if converged:
                break
        self.weight, self.bias = w, t_mean - float(x_mean @ w)
        return history

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, np.float64) @ self.weight + self.bias

    def state(self) -> dict[str, Any]:
        return {"weight": self.weight, "bias": self.bias, "iterations": self.iterations}

    def load_state(self, state: dict[str, Any]) -> None:
        self.weight, self.bias = np.asarray(state["weight"], np.float64), float(state["bias"])
