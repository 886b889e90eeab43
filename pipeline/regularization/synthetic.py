"""Synthetic regression data whose true weights are known, drawn from an explicit generator."""

from __future__ import annotations

import torch


def polynomial_features(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Columns x, x^2, ..., x^degree of a 1-d tensor."""
    return torch.stack([x ** k for k in range(1, degree + 1)], dim=1)


def polynomial_data(true_w: list[float], true_b: float, noise: float, n: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1) and y = b + sum_k w_k x^k + N(0, noise^2); returns (x, y) as 1-d tensors."""
    x = torch.randn(n, generator=generator)
    y = polynomial_features(x, len(true_w)) @ torch.tensor(true_w) + true_b
    return x, y + noise * torch.randn(n, generator=generator)


def linear_data(num_inputs: int, true_w: float, true_b: float, noise: float, n: int,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """X ~ N(0, I) with num_inputs columns, y = X w + b + N(0, noise^2) with every w_i = true_w."""
    x = torch.randn(n, num_inputs, generator=generator)
    y = x @ torch.full((num_inputs,), true_w) + true_b
    return x, y + noise * torch.randn(n, generator=generator)
