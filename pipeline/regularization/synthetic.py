"""Synthetic regression data whose true weights are known, drawn from an explicit generator."""

from __future__ import annotations

import math

import torch


def polynomial_features(x: torch.Tensor, max_degree: int) -> torch.Tensor:
    """Columns x^i / i! for i = 0..max_degree of a 1-d tensor (x^0 = 1 plays the bias).

    Dividing by i! = gamma(i + 1) keeps the high powers of x ~ N(0, 1) from dominating the
    gradient, so plain SGD can fit all of them at one step size.
    """
    powers = torch.arange(max_degree + 1, dtype=x.dtype)
    factorials = torch.tensor([math.factorial(i) for i in range(max_degree + 1)], dtype=torch.float64)
    return x.reshape(-1, 1) ** powers / factorials.to(x.dtype)


def polynomial_data(true_w: list[float], max_degree: int, noise: float, n: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, 1), features x^i / i! (i = 0..max_degree) and y = sum_i w_i x^i / i! + N(0, noise^2),
    with w = true_w followed by zeros; returns (features (n, max_degree + 1), y (n,))."""
    x = torch.randn(n, generator=generator)
    features = polynomial_features(x, max_degree)
    w = torch.zeros(max_degree + 1)
    w[:len(true_w)] = torch.tensor(true_w)
    return features, features @ w + noise * torch.randn(n, generator=generator)


def linear_data(num_inputs: int, true_w: float, true_b: float, noise: float, n: int,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """X ~ N(0, I) with num_inputs columns, y = X w + b + N(0, noise^2) with every w_i = true_w."""
    x = torch.randn(n, num_inputs, generator=generator)
    y = x @ torch.full((num_inputs,), true_w) + true_b
    return x, y + noise * torch.randn(n, generator=generator)
