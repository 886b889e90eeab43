"""The House Prices model zoo: torch at the centre, scikit-learn where it earns its place.

Every model maps float32 feature rows to the target (log price or price, as preprocessing
chose) through the same small interface: `fit(X, y, curves)` returns per-epoch curves (empty
for models without epochs), `predict(X)`, `state()` / `from_state()` to save and load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import torch
from torch import nn

from pipeline.errors import ParamError
from pipeline.params import build, require
from pipeline.runtime import pick_device
from pipeline.training import OPTIMIZERS, make_optimizer, minibatches, train_epochs

from .boosting import LightGBM
from .kernels import SVR

# name -> (X, y) evaluated after every epoch, e.g. {"train": ..., "valid": ...}
CurveSets = dict[str, tuple[np.ndarray, np.ndarray]]
# (y_true, y_pred) in target space -> score (log-RMSE of prices)
Scorer = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class TorchNetParams:
    """A linear model or an MLP trained with minibatch gradient descent."""

    type: Literal["linear", "mlp"]
    hidden: list[int] = field(default_factory=list)
    dropout: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 64
    epochs: int = 100
    standardize_target: bool = False  # learn (y - mean) / std: the net need not spend epochs finding ~12
    device: str = "auto"

    def validate(self, where: str) -> None:
        require(self.optimizer in OPTIMIZERS, f"{where}.optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        require(self.lr > 0, f"{where}.lr", f"must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"{where}.batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.epochs >= 1, f"{where}.epochs", f"must be >= 1, got {self.epochs}")
        require(0 <= self.dropout < 1, f"{where}.dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.weight_decay >= 0, f"{where}.weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(all(h >= 1 for h in self.hidden), f"{where}.hidden", f"sizes must be >= 1, got {self.hidden}")
        require(self.type == "mlp" or not self.hidden, f"{where}.hidden", "must be empty for type linear")


@dataclass
class ElasticNetParams:
    """Ridge/lasso-like linear model, fitted in torch by accelerated proximal gradient (FISTA).

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


@dataclass
class SklearnParams:
    """A scikit-learn regressor; `options` go to its constructor unchanged."""

    type: Literal["kernel_ridge", "gradient_boosting"]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LightGBMParams:
    """LightGBM boosted trees (pipeline/house/boosting.py); names as LightGBM's scikit-learn API."""

    type: Literal["lightgbm"]
    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 8
    max_depth: int = -1  # -1: no limit (num_leaves bounds the tree)
    min_child_samples: int = 10
    subsample: float = 0.8  # rows per tree (bagging every tree when < 1)
    colsample_bytree: float = 0.3  # features per tree
    reg_alpha: float = 0.0
    reg_lambda: float = 0.0
    max_bin: int = 255
    min_data_in_bin: int = 3
    objective: Literal["regression", "huber", "regression_l1", "fair"] = "regression"
    huber_delta: float = 0.9  # huber: residuals (in target units) beyond this count linearly
    threads: int = 1  # 2-core shared machine: more threads spin, not speed up
    curve_every: int = 10  # log the curves every this many trees

    def validate(self, where: str) -> None:
        require(self.n_estimators >= 1, f"{where}.n_estimators", f"must be >= 1, got {self.n_estimators}")
        require(self.learning_rate > 0, f"{where}.learning_rate", f"must be > 0, got {self.learning_rate}")
        require(self.num_leaves >= 2, f"{where}.num_leaves", f"must be >= 2, got {self.num_leaves}")
        require(self.max_depth == -1 or self.max_depth >= 1, f"{where}.max_depth",
                f"must be -1 (no limit) or >= 1, got {self.max_depth}")
        require(self.min_child_samples >= 1, f"{where}.min_child_samples",
                f"must be >= 1, got {self.min_child_samples}")
        require(0 < self.subsample <= 1, f"{where}.subsample", f"must be in (0, 1], got {self.subsample}")
        require(0 < self.colsample_bytree <= 1, f"{where}.colsample_bytree",
                f"must be in (0, 1], got {self.colsample_bytree}")
        require(self.reg_alpha >= 0, f"{where}.reg_alpha", f"must be >= 0, got {self.reg_alpha}")
        require(self.reg_lambda >= 0, f"{where}.reg_lambda", f"must be >= 0, got {self.reg_lambda}")
        require(self.max_bin >= 2, f"{where}.max_bin", f"must be >= 2, got {self.max_bin}")
        require(self.min_data_in_bin >= 1, f"{where}.min_data_in_bin", f"must be >= 1, got {self.min_data_in_bin}")
        require(self.huber_delta > 0, f"{where}.huber_delta", f"must be > 0, got {self.huber_delta}")
        require(self.threads >= 1, f"{where}.threads", f"must be >= 1, got {self.threads}")
        require(self.curve_every >= 1, f"{where}.curve_every", f"must be >= 1, got {self.curve_every}")


@dataclass
class SVRParams:
    """Support vector regression (pipeline/house/kernels.py): epsilon-insensitive, robust to outliers."""

    type: Literal["svr"]
    kernel: Literal["rbf", "linear", "poly"] = "rbf"
    C: float = 20.0
    epsilon: float = 0.008
    gamma: float = 0.0003
    degree: int = 2
    coef0: float = 1.0
    scale: Literal["none", "standard", "robust"] = "none"  # rescale features before the kernel

    def validate(self, where: str) -> None:
        require(self.C > 0, f"{where}.C", f"must be > 0, got {self.C}")
        require(self.epsilon >= 0, f"{where}.epsilon", f"must be >= 0, got {self.epsilon}")
        require(self.gamma > 0, f"{where}.gamma", f"must be > 0, got {self.gamma}")
        require(self.degree >= 1, f"{where}.degree", f"must be >= 1, got {self.degree}")


class TorchNet:
    def __init__(self, params: TorchNetParams, n_features: int, seed: int):
        self.params, self.n_features, self.seed = params, n_features, seed
        self.y_shift, self.y_scale = 0.0, 1.0
        torch.manual_seed(seed)
        self.net = self._build()

    def _build(self) -> nn.Module:
        p, layers, width = self.params, [], self.n_features
        for size in p.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if p.dropout > 0:
                layers.append(nn.Dropout(p.dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        return nn.Sequential(*layers)

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        p = self.params
        device = pick_device(p.device)
        net = self.net.to(device)
        if p.standardize_target:
            self.y_shift, self.y_scale = float(np.mean(y)), float(np.std(y)) or 1.0
        features = torch.as_tensor(X, dtype=torch.float32, device=device)
        target = torch.as_tensor((y - self.y_shift) / self.y_scale, dtype=torch.float32, device=device).reshape(-1, 1)
        optimizer = make_optimizer(p.optimizer, net.parameters(), p.lr, p.weight_decay)
        loss_fn = nn.MSELoss()
        generator = torch.Generator().manual_seed(self.seed)

        def step(batch):
            xb, yb = batch
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            return loss

        def evaluate():
            return {f"{name}_log_rmse": score(yy, self.predict(xx)) for name, (xx, yy) in (curves or {}).items()}

        def batches():
            net.train()
            for xb, yb in minibatches((features.cpu(), target.cpu()), p.batch_size, generator=generator):
                yield xb.to(device), yb.to(device)

        history = train_epochs(step, batches, p.epochs, evaluate if curves and score else None,
                               desc=f"{p.type} epochs", progress=progress)
        self.net = net.cpu()
        return history

    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        self.net.eval()
        device = next(self.net.parameters()).device
        out = self.net(torch.as_tensor(X, dtype=torch.float32, device=device))
        return out.squeeze(1).double().cpu().numpy() * self.y_scale + self.y_shift

    def state(self) -> dict[str, Any]:
        return {"net": {k: v.cpu() for k, v in self.net.state_dict().items()}, "n_features": self.n_features,
                "y_shift": self.y_shift, "y_scale": self.y_scale}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.y_shift, self.y_scale = state["y_shift"], state["y_scale"]


class ElasticNet:
    def __init__(self, params: ElasticNetParams, n_features: int, seed: int):
        self.params, self.n_features = params, n_features
        self.weight = torch.zeros(n_features, dtype=torch.float64)
        self.bias = torch.zeros((), dtype=torch.float64)
        self.iterations = 0

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        p = self.params
        x = torch.as_tensor(X, dtype=torch.float64)
        t = torch.as_tensor(y, dtype=torch.float64)
        x_mean, t_mean = x.mean(0), t.mean()
        xc, tc = x - x_mean, t - t_mean  # the intercept is not penalised: fit it by centring
        n = len(t)
        l1, l2 = p.alpha * p.l1_ratio, p.alpha * (1 - p.l1_ratio)
        gram, corr = xc.T @ xc / n, xc.T @ tc / n  # the gradient needs only these: features², not rows
        step = 1.0 / (float(torch.linalg.eigvalsh(gram)[-1]) + l2)  # 1 / Lipschitz constant
        w = torch.zeros(x.shape[1], dtype=torch.float64)
        z, momentum = w.clone(), 1.0
        for self.iterations in range(1, p.max_iter + 1):
            grad = gram @ z - corr + l2 * z
            w_next = torch.nn.functional.softshrink(z - step * grad, step * l1) if l1 > 0 else z - step * grad
            momentum_next = (1 + (1 + 4 * momentum ** 2) ** 0.5) / 2
            z = w_next + ((momentum - 1) / momentum_next) * (w_next - w)
            change = float((w_next - w).abs().max())
            w, momentum = w_next, momentum_next
            if change < p.tol:
                break
        self.weight, self.bias = w, t_mean - x_mean @ w
        return {}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (torch.as_tensor(X, dtype=torch.float64) @ self.weight + self.bias).numpy()

    def state(self) -> dict[str, Any]:
        return {"weight": self.weight, "bias": self.bias, "iterations": self.iterations}

    def load_state(self, state: dict[str, Any]) -> None:
        self.weight, self.bias = state["weight"], state["bias"]


class Sklearn:
    def __init__(self, params: SklearnParams, n_features: int, seed: int):
        from sklearn.ensemble import GradientBoostingRegressor
        from sklearn.kernel_ridge import KernelRidge

        self.params = params
        options = dict(params.options)
        if params.type == "gradient_boosting":
            options.setdefault("random_state", seed)
            make = GradientBoostingRegressor
        else:
            make = KernelRidge
        try:
            self.model = make(**options)
            self.model._validate_params()
        except (TypeError, ValueError) as exc:
            raise ParamError(f"params.yaml: bad options for {params.type}: {exc}") from exc

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        self.model.fit(np.asarray(X, dtype=np.float64), y)
        return {}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"model": self.model}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]


MODEL_TYPES: dict[str, tuple[type, type]] = {
    "linear": (TorchNetParams, TorchNet),
    "mlp": (TorchNetParams, TorchNet),
    "elastic_net": (ElasticNetParams, ElasticNet),
    "kernel_ridge": (SklearnParams, Sklearn),
    "gradient_boosting": (SklearnParams, Sklearn),
    "lightgbm": (LightGBMParams, LightGBM),
    "svr": (SVRParams, SVR),
}


def model_params(values: dict[str, Any], where: str):
    """Validate one `house.models.<name>` entry into its params dataclass."""
    kind = values.get("type")
    if kind not in MODEL_TYPES:
        raise ParamError(f"params.yaml: '{where}.type' must be one of {', '.join(MODEL_TYPES)}; got {kind!r}")
    return build(MODEL_TYPES[kind][0], values, where)


def create(params, n_features: int, seed: int):
    """A fresh, untrained model for validated `params`."""
    return MODEL_TYPES[params.type][1](params, n_features, seed)


def to_dict(params) -> dict[str, Any]:
    return dataclasses.asdict(params)
