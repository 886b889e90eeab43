"""Models trained with torch: a linear model or an MLP by minibatch gradient descent.

Regression minimises squared error; a binary task one logit's logistic loss (logistic
regression for `linear`); a multiclass task softmax cross-entropy over K logits.

Kept apart from the registry (models.py) so that only stages training these import torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pipeline.params import require
from pipeline.runtime import pick_device
from pipeline.tabular.tasks import REGRESSION, Task
from pipeline.tabular.tasks import TASKS as ALL_TASKS
from pipeline.training import OPTIMIZERS, make_optimizer, minibatches, train_epochs

from . import CurveSets, Scorer, class_probabilities, class_targets, curve_key


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
    standardize_target: bool = False  # regression: learn (y - mean) / std, not spending epochs finding ~12
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


class TorchNet:
    Params = TorchNetParams
    TASKS = ALL_TASKS

    def __init__(self, params: TorchNetParams, n_features: int, seed: int, task: Task = REGRESSION):
        self.params, self.n_features, self.seed, self.task = params, n_features, seed, task
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
        layers.append(nn.Linear(width, self.task.n_classes if self.task.kind == "multiclass" else 1))
        return nn.Sequential(*layers)

    def _target(self, y: np.ndarray, device) -> tuple[torch.Tensor, nn.Module]:
        """The training target as the task's loss wants it, and that loss."""
        if self.task.kind == "multiclass":
            return torch.as_tensor(class_targets(y, self.task), device=device), nn.CrossEntropyLoss()
        if self.task.kind == "binary":
            labels = torch.as_tensor(class_targets(y, self.task), dtype=torch.float32, device=device)
            return labels.reshape(-1, 1), nn.BCEWithLogitsLoss()
        if self.params.standardize_target:
            self.y_shift, self.y_scale = float(np.mean(y)), float(np.std(y)) or 1.0
        target = torch.as_tensor((y - self.y_shift) / self.y_scale, dtype=torch.float32, device=device)
        return target.reshape(-1, 1), nn.MSELoss()

    def fit(self, X: np.ndarray, y: np.ndarray, curves: CurveSets | None = None,
            score: Scorer | None = None, progress: bool = False) -> dict[str, list[float]]:
        p = self.params
        device = pick_device(p.device)
        net = self.net.to(device)
        features = torch.as_tensor(X, dtype=torch.float32, device=device)
        target, loss_fn = self._target(y, device)
        optimizer = make_optimizer(p.optimizer, net.parameters(), p.lr, p.weight_decay)
        generator = torch.Generator().manual_seed(self.seed)

        def step(batch):
            xb, yb = batch
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            return loss

        def evaluate():
            return {curve_key(name, score): score(yy, self.predict(xx)) for name, (xx, yy) in (curves or {}).items()}

        def batches():
            net.train()
            for xb, yb in minibatches((features.cpu(), target.cpu()), p.batch_size, generator=generator):
                yield xb.to(device), yb.to(device)

        history = train_epochs(step, batches, p.epochs, evaluate if curves and score else None,
                               desc=f"{p.type} epochs",
                               progress=progress and sys.stderr.isatty(),  # no bar in a log file
                               lr_param=f"{getattr(p, 'where', 'house.models.' + p.type)}.lr")
        self.net = net.cpu()
        return history

    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        self.net.eval()
        device = next(self.net.parameters()).device
        out = self.net(torch.tensor(X, dtype=torch.float32, device=device))  # a copy: X may be read-only
        if self.task.kind == "multiclass":
            return class_probabilities(torch.softmax(out.double(), dim=1).cpu().numpy(), self.task)
        if self.task.kind == "binary":
            return class_probabilities(torch.sigmoid(out.squeeze(1).double()).cpu().numpy(), self.task)
        return out.squeeze(1).double().cpu().numpy() * self.y_scale + self.y_shift

    def state(self) -> dict[str, Any]:
        return {"net": {k: v.cpu() for k, v in self.net.state_dict().items()}, "n_features": self.n_features,
                "y_shift": self.y_shift, "y_scale": self.y_scale}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.y_shift, self.y_scale = state["y_shift"], state["y_scale"]


