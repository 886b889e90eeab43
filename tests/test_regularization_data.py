"""IDX reader and Fashion-MNIST loading: round trips, clear errors on broken files, real data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from pipeline.errors import DataError
from pipeline.regularization import fashion
from pipeline.regularization.idx import read_idx

CODES = {np.dtype("uint8"): 0x08, np.dtype("int16"): 0x0B, np.dtype("float32"): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, CODES[array.dtype], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, payload: bytes):
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


def test_round_trip_gz_and_raw_big_endian(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", idx_bytes(images))), images)
    values = np.array([[1.5, -2.25], [1e6, 0.0]], dtype=np.float32)  # multi-byte: byte order matters
    got = read_idx(write_idx(tmp_path / "b.idx", idx_bytes(values)))
    assert got.dtype == np.float32 and np.array_equal(got, values)
    shorts = np.array([-300, 7, 32000], dtype=np.int16)
    assert read_idx(write_idx(tmp_path / "c.idx", idx_bytes(shorts))).tolist() == [-300, 7, 32000]


def test_limit_reads_only_the_first_records(tmp_path):
    images = np.arange(6 * 2 * 2, dtype=np.uint8).reshape(6, 2, 2)
    path = write_idx(tmp_path / "a.gz", idx_bytes(images))
    assert np.array_equal(read_idx(path, limit=2), images[:2])
    assert read_idx(path, limit=100).shape == (6, 2, 2)


def test_wrong_magic_number_is_named(tmp_path):
    labels = np.zeros(4, dtype=np.uint8)
    path = write_idx(tmp_path / "labels.gz", b"\x08\x01" + idx_bytes(labels)[2:])  # first two bytes not zero
    with pytest.raises(DataError, match=r"labels.gz: bad IDX magic number 0x08010801"):
        read_idx(path)
    bad_type = write_idx(tmp_path / "t.idx", b"\x00\x00\x07\x01" + idx_bytes(labels)[4:])
    with pytest.raises(DataError, match="bad IDX magic number 0x00000701"):
        read_idx(bad_type)


def test_truncated_payload_and_header_and_trailing_bytes(tmp_path):
    images = np.ones((3, 2, 2), dtype=np.uint8)
    payload = idx_bytes(images)
    cut = write_idx(tmp_path / "cut.gz", payload[:-2])
    with pytest.raises(DataError, match=r"cut.gz: truncated payload of shape \(3, 2, 2\): expected 12 bytes, got 10"):
        read_idx(cut)
    with pytest.raises(DataError, match="truncated dimensions"):
        read_idx(write_idx(tmp_path / "head.idx", payload[:9]))
    with pytest.raises(DataError, match="truncated magic number"):
        read_idx(write_idx(tmp_path / "empty.idx", b""))
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(write_idx(tmp_path / "long.idx", payload + b"\x00"))


def test_cut_gzip_stream_and_missing_file(tmp_path):
    whole = write_idx(tmp_path / "whole.gz", idx_bytes(np.arange(5000, dtype=np.int16)))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DataError, match="broken.gz: truncated"):
        read_idx(broken)
    with pytest.raises(DataError, match="IDX file not found"):
        read_idx(tmp_path / "nope.gz")


def test_fashion_split_checks_shapes_and_counts(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((5, 28, 28), dtype=np.uint8)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(DataError, match="train has 5 images but 4 labels"):
        fashion.load_split(tmp_path, "train")
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((2, 8, 8), dtype=np.uint8)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"expected uint8 images of shape \(n, 28, 28\)"):
        fashion.load_split(tmp_path, "t10k")


def test_real_fashion_mnist_from_the_mirror(mirror):
    train, test = fashion.load(mirror / "fashion-mnist", train_limit=2000)
    assert train.x.shape == (2000, 784) and train.x.dtype == torch.float32
    assert len(test) == 10_000 and test.y.dtype == torch.int64
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) == 1.0
    assert torch.bincount(test.y).tolist() == [1000] * 10  # the test set is balanced
    assert set(train.y.tolist()) == set(range(10))
