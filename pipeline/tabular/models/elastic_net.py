"""The elastic net (ridge/lasso-like) linear model, fitted by FISTA in NumPy.

NumPy rather than torch: the fit is a few thousand 300x300 matrix-vector products, which
NumPy does as fast, and a stage that trains only this model then never imports torch.
A classification task swaps squared error for mean log loss (logistic regression with the
same penalty): the same FISTA loop, with the logistic gradient over the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pipeline.params import require
from pipeline.tabular.tasks import REGRESSION, Task
from pipeline.tabular.tasks import TASKS as ALL_TASKS

from . import CurveSets, Scorer, class_probabilities, class_targets, curve_key

CURVE_POINTS = 60  # iterations recorded for the curves, log-spaced (convergence is fast, then slow)


def _soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _fista(gradient: Callable[[np.ndarray], np.ndarray], prox: Callable[[np.ndarray], np.ndarray],
           start: np.ndarray, step: float, max_iter: int, tol: float,
           visit: Callable[[int, np.ndarray, bool], None]) -> tuple[np.ndarray, int]:
    """Accelerated proximal gradient from `start` until no weight moves by `tol` or `max_iter`
    steps; `visit(iteration, w, converged)` after each step. Returns (w, iterations)."""
    w = start
    z, momentum = w.copy(), 1.0
    for iteration in range(1, max_iter + 1):
        w_next = prox(z - step * gradient(z))
        momentum_next = (1 + (1 + 4 * momentum ** 2) ** 0.5) / 2
        z = w_next + ((momentum - 1) / momentum_next) * (w_next - w)
        change = float(np.abs(w_next - w).max())
        w, momentum = w_next, momentum_next
        converged = change < tol
        visit(iteration, w, converged)
        if converged:
            break
    return w, iteration


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class ElasticNetParams:
    """Ridge/lasso-like linear model, fitted by accelerated proximal gradient (FISTA) in NumPy.

    Objective as scikit-learn's ElasticNet: 1/(2n)·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1−r)/2·‖w‖²);
    r = l1_ratio (1: lasso, 0: ridge). Full-batch and float64, so it converges to the optimum.
    For classification the squared error is the mean log loss (a sigmoid of one weight vector
    for a binary task, a softmax of one per class for a multiclass one); α, r as above.
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
    """`type: elastic_net`. Regression: `weight` (d,) and `bias`; classification: `weight`
    (d, m) and `bias` (m,) of m logits (1 for binary, K for multiclass)."""

    Params = ElasticNetParams
    TASKS = ALL_TASKS

    def __init__(self, params: ElasticNetParams, n_features: int, seed: int, task: Task = REGRESSION):
        self.params, self.n_features, self.task = params, n_features, task
        if task.is_classification:
            logits = task.n_classes if task.kind == "multiclass" else 1
            self.weight, self.bias = np.zeros((n_features, logits)), np.zeros(logits)
        else:
            self.weight = np.zeros(n_features)
            self.bias = 0.0
        self.iterations = 0

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        """Minimise 1/(2n)·‖y − Xw − b‖² + α·(r·‖w‖₁ + (1−r)/2·‖w‖²).

        With `curves` and `score`, records the objective and each set's score at ~60
        log-spaced iterations (`step` = iteration), so MLflow shows the convergence.
        """
        if self.task.is_classification:
            return self._fit_classifier(X, y, curves, score)
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

        def objective(w: np.ndarray) -> float:
            return 0.5 * (tt - 2 * corr @ w + w @ gram @ w) + l1 * np.abs(w).sum() + 0.5 * l2 * (w @ w)

        def settle(w: np.ndarray) -> None:
            self.weight, self.bias = w, t_mean - float(x_mean @ w)

        history, visit = self._recorder(settle, objective, curves, score)
        w, self.iterations = _fista(lambda z: gram @ z - corr + l2 * z,
                                    (lambda v: _soft_threshold(v, step * l1)) if l1 > 0 else (lambda v: v),
                                    np.zeros(x.shape[1]), step, p.max_iter, p.tol, visit)
        settle(w)
        return history

    def _fit_classifier(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None,
                        score: Scorer | None) -> dict[str, list[float]]:
        """Minimise mean log loss + α·(r·‖W‖₁ + (1−r)/2·‖W‖²), the intercepts unpenalised.

        The unknowns are W with the intercepts as an extra last row, over centred features (the
        centring keeps the intercept's curvature apart from the weights'). The logistic loss's
        gradient is Xᵀ(P − Y)/n, Lipschitz with ¼ (sigmoid) or ½ (softmax) of the largest
        eigenvalue of [X 1]ᵀ[X 1]/n, which for centred X is max(λ_max(XᵀX/n), 1).
        """
        p, task = self.params, self.task
        x = np.asarray(X, np.float64)
        labels = class_targets(y, task)
        x_mean = x.mean(0)
        xc, n = x - x_mean, len(labels)
        if task.kind == "multiclass":
            link, curvature = _softmax, 0.5
            target = np.eye(task.n_classes)[labels]
        else:
            link, curvature = _sigmoid, 0.25
            target = labels.astype(np.float64).reshape(-1, 1)
        l1, l2 = p.alpha * p.l1_ratio, p.alpha * (1 - p.l1_ratio)
        top = float(np.linalg.eigvalsh(xc.T @ xc / n)[-1])
        step = 1.0 / (curvature * max(top, 1.0) + l2)

        def gradient(wb: np.ndarray) -> np.ndarray:
            residual = (link(xc @ wb[:-1] + wb[-1]) - target) / n
            return np.vstack([xc.T @ residual + l2 * wb[:-1], residual.sum(0, keepdims=True)])

        def prox(wb: np.ndarray) -> np.ndarray:
            return np.vstack([_soft_threshold(wb[:-1], step * l1), wb[-1:]]) if l1 > 0 else wb

        def objective(wb: np.ndarray) -> float:
            prob = link(xc @ wb[:-1] + wb[-1])
            right = (prob[np.arange(n), labels] if task.kind == "multiclass" else
                     np.where(labels == 1, prob[:, 0], 1 - prob[:, 0]))  # P(the row's class)
            w = wb[:-1]
            return -np.mean(np.log(np.clip(right, 1e-15, None))) + l1 * np.abs(w).sum() + 0.5 * l2 * np.sum(w * w)

        def settle(wb: np.ndarray) -> None:
            self.weight, self.bias = wb[:-1], wb[-1] - x_mean @ wb[:-1]

        history, visit = self._recorder(settle, objective, curves, score)
        start = np.zeros((x.shape[1] + 1, target.shape[1]))
        wb, self.iterations = _fista(gradient, prox, start, step, p.max_iter, p.tol, visit)
        settle(wb)
        return history

    def _recorder(self, settle: Callable[[np.ndarray], None], objective: Callable[[np.ndarray], float],
                  curves: CurveSets | None, score: Scorer | None):
        """The curves' history and the FISTA `visit` that fills it: the objective and each set's
        score at the log-spaced iterations, at convergence and at `max_iter`."""
        max_iter = self.params.max_iter
        record = set(np.unique(np.geomspace(1, max_iter, CURVE_POINTS).astype(int)).tolist())
        history: dict[str, list[float]] = {}

        def visit(iteration: int, w: np.ndarray, converged: bool) -> None:
            if not (curves and score) or not (iteration in record or converged or iteration == max_iter):
                return
            settle(w)
            point = {"step": iteration, "objective": float(objective(w))}
            point.update({curve_key(name, score): score(yy, self.predict(xx)) for name, (xx, yy) in curves.items()})
            for key, value in point.items():
                history.setdefault(key, []).append(float(value))

        return history, visit

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.asarray(X, np.float64) @ self.weight + self.bias
        if self.task.kind == "multiclass":
            return class_probabilities(_softmax(out), self.task)
        if self.task.kind == "binary":
            return class_probabilities(_sigmoid(out[:, 0]), self.task)
        return out

    def state(self) -> dict[str, Any]:
        return {"weight": self.weight, "bias": self.bias, "iterations": self.iterations}

    def load_state(self, state: dict[str, Any]) -> None:
        self.weight = np.asarray(state["weight"], np.float64)
        self.bias = np.asarray(state["bias"], np.float64) if self.task.is_classification else float(state["bias"])
