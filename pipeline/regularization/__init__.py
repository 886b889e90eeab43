"""Regularization experiments: polynomial fitting, weight decay, dropout, initialization."""
