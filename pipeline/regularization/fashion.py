"""Fashion-MNIST as in-memory tensors: read once, moved to the device once, sliced per batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.errors import DataError
from pipeline.regularization.idx import read_idx

CLASSES = 10
PIXELS = 28 * 28


@dataclass(frozen=True)
class Split:
    """Images as float32 rows in [0, 1] (n, 784) and int64 labels (n,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


def load_split(folder: Path, prefix: str, limit: int | None = None) -> Split:
    """Read `<prefix>-images-idx3-ubyte.gz` and `<prefix>-labels-idx1-ubyte.gz`, checking they match."""
    images_path = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = folder / f"{prefix}-labels-idx1-ubyte.gz"
    images = read_idx(images_path, limit)
    labels = read_idx(labels_path, limit)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} "
                        f"{images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{labels_path}: expected uint8 labels of shape (n,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {prefix} has {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() >= CLASSES:
        raise DataError(f"{labels_path}: label {int(labels.max())} out of range 0..{CLASSES - 1}")
    x = torch.from_numpy(images.reshape(len(images), PIXELS)).to(torch.float32).div_(255.0)
    return Split(x, torch.from_numpy(labels).to(torch.int64))


def load(folder: str | Path, train_limit: int = 0, test_limit: int = 0,
         device: torch.device | None = None) -> tuple[Split, Split]:
    """Train and test splits; a limit of 0 means every example (limits keep tests fast)."""
    folder = Path(folder)
    train = load_split(folder, "train", train_limit or None)
    test = load_split(folder, "t10k", test_limit or None)
    if device is not None:
        train, test = train.to(device), test.to(device)
    return train, test
