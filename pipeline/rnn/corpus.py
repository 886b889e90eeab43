"""Read the two corpora, turn them into character tokens, and map tokens to indices.

The Time Machine is lowercased and every run of non-letters becomes one space (26 letters,
the space and `<unk>`: a vocabulary of 28). The Jay Chou lyrics keep every character; only
line breaks become spaces. Both are cut to the first `max_tokens` characters, as the course
does, and the vocabulary is built from the tokens actually used, so the output layer has no
class the model never sees.
"""

from __future__ import annotations

import collections
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.errors import DataError

UNK = "<unk>"
RAW_FILES = {  # corpus name -> file under data/raw/<name>/ (written by stage download@<name>)
    "timemachine": "timemachine.txt",
    "jaychou-lyrics": "jaychou_lyrics.txt.zip",
}
CORPORA = tuple(RAW_FILES)


def normalize_timemachine(text: str) -> str:
    """Lowercase; each run of non-letters becomes one space (the course's preprocessing)."""
    return re.sub("[^a-z]+", " ", text.lower())


def normalize_lyrics(text: str) -> str:
    """Line breaks become spaces; every other character is a token of its own."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


NORMALIZERS = {"timemachine": normalize_timemachine, "jaychou-lyrics": normalize_lyrics}


def read_text(name: str, raw_dir: Path) -> str:
    """The normalized text of corpus `name` from `raw_dir/<name>/`."""
    if name not in RAW_FILES:
        raise DataError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    path = Path(raw_dir) / name / RAW_FILES[name]
    if not path.is_file():
        raise DataError(f"{path}: not found; run `dvc repro download@{name}`")
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".txt")]
            if not members:
                raise DataError(f"{path}: no .txt file inside the zip")
            raw = archive.read(members[0]).decode("utf-8")
    else:
        raw = path.read_text(encoding="utf-8")
    text = NORMALIZERS[name](raw)
    if not text.strip():
        raise DataError(f"{path}: the corpus is empty after preprocessing")
    return text


def tokenize(text: str) -> list[str]:
    """Character tokens."""
    return list(text)


class Vocab:
    """Token <-> index map; index 0 is `<unk>`, then tokens by falling frequency (ties by token),
    so the same corpus always gives the same indices."""

    def __init__(self, tokens: Iterable[str] = (), min_freq: int = 0, idx_to_token: Sequence[str] | None = None):
        if idx_to_token is not None:  # rebuilt from a saved model
            self.idx_to_token = list(idx_to_token)
        else:
            counts = collections.Counter(tokens)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            self.idx_to_token = [UNK] + [tok for tok, n in ranked if n >= min_freq and tok != UNK]
        if not self.idx_to_token or self.idx_to_token[0] != UNK:
            raise DataError(f"a vocabulary must start with {UNK}")
        self.token_to_idx = {tok: i for i, tok in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    @property
    def unk(self) -> int:
        return 0

    def to_indices(self, tokens: Iterable[str]) -> list[int]:
        """Unknown tokens map to `<unk>` (index 0)."""
        return [self.token_to_idx.get(tok, 0) for tok in tokens]

    def to_tokens(self, indices: Iterable[int]) -> list[str]:
        return [self.idx_to_token[int(i)] for i in indices]


@dataclass(frozen=True)
class Corpus:
    """The token indices of one corpus and their vocabulary."""

    name: str
    indices: torch.Tensor  # 1-D int64
    vocab: Vocab


def load_corpus(name: str, raw_dir: Path, max_tokens: int | None = 10000, min_freq: int = 0) -> Corpus:
    """Read, tokenize and index corpus `name`, keeping its first `max_tokens` tokens (None: all)."""
    tokens = tokenize(read_text(name, raw_dir))
    if max_tokens is not None:
        tokens = tokens[:max_tokens]
    vocab = Vocab(tokens, min_freq=min_freq)
    return Corpus(name, torch.tensor(vocab.to_indices(tokens), dtype=torch.long), vocab)
