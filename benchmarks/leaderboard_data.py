"""The benchmark competitions of `benchmarks/leaderboard.py` and their pseudo-tests.

Each competition starts from labelled rows only (its own train.csv, or data a registry
package ships in its wheel, or the seeded bike generator): never a public full copy with the
real test's labels. A pseudo-test is held out of those rows the way the real test was split
(later days of each month for time-ordered data, random rows otherwise), and a Kaggle-like
folder is written for the pipeline: train.csv, test.csv without the target, and a sample
submission in the competition's format; the held-out labels stay with the benchmark.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bike_demand import TEST_FIRST_DAY
from bike_demand import generate as generate_bikes

REPO = Path(__file__).resolve().parents[1]
MIRROR_ENV = "PIPELINE_DATA_MIRROR"
RANDOM_SHARE = 0.3  # pseudo-test share for randomly split competitions


def mirror() -> Path:
    """The dataset mirror: PIPELINE_DATA_MIRROR, else ../shared/datasets beside the repo."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value.removeprefix("file://")) if value else REPO.parent / "shared" / "datasets"


@dataclass(frozen=True)
class Competition:
    """A benchmark competition: where its labelled rows come from and how its test was split."""

    name: str  # the key (and `competition new` slug) in the throw-away repo
    what: str  # one line for --help
    load: Callable[[int], pd.DataFrame]  # seed -> labelled rows (only the generator uses the seed)
    id: str
    target: str
    metric: str  # Kaggle's metric (a user sets it from the Evaluation page when the guess differs)
    split: str = "random"  # "random" | "days": test = days TEST_FIRST_DAY.. of each month
    train_only: tuple[str, ...] = ()  # columns train.csv has and test.csv lacks (besides the target)
    shipped: bool = False  # reuse the shipped params block (its features module) with files from DIR


def _house(_: int) -> pd.DataFrame:
    return pd.read_csv(mirror() / "kaggle_house_pred_train.csv")


def _titanic(_: int) -> pd.DataFrame:
    return pd.read_csv(mirror() / "titanic" / "train.csv")


def _statsmodels(name: str) -> pd.DataFrame:
    from statsmodels import datasets

    return getattr(datasets, name).load_pandas().data


def _fair(_: int) -> pd.DataFrame:
    """statsmodels' `fair` (Redbook survey, 6366 women): did she have an affair (binary)."""
    data = _statsmodels("fair")
    frame = data.drop(columns="affairs").astype({c: "int64" for c in ("rate_marriage", "religious", "educ",
                                                                       "occupation", "occupation_husb")})
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["affair"] = (data["affairs"] > 0).astype(int)
    return frame


def _randhie(_: int) -> pd.DataFrame:
    """statsmodels' `randhie` (RAND health insurance experiment, 20190 person-years): visits."""
    frame = _statsmodels("randhie")
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame[["id", *[c for c in frame.columns if c not in ("id", "mdvis")], "mdvis"]]


COMPETITIONS = {c.name: c for c in (
    Competition("house-prices", "House Prices train.csv (mirror), shipped block, log_rmse", _house, "Id",
                "SalePrice", "log_rmse", shipped=True),
    Competition("titanic", "Titanic train.csv (mirror), shipped block, accuracy", _titanic, "PassengerId",
                "Survived", "accuracy", shipped=True),
    Competition("fair", "statsmodels fair: affair yes/no (binary, 6366 rows), accuracy", _fair, "id",
                "affair", "accuracy"),
    Competition("randhie", "statsmodels randhie: doctor visits (regression, 20190 rows), rmsle", _randhie,
                "id", "mdvis", "rmsle"),
    Competition("bike-demand", "generated hourly bike rentals (benchmarks/bike_demand.py), rmsle; "
                "test = days 20-31", generate_bikes, "datetime", "count", "rmsle", split="days",
                train_only=("casual", "registered")),
)}


def random_split(frame: pd.DataFrame, seed: int, share: float = RANDOM_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, pseudo-test): `share` of the rows at random, as Kaggle splits most competitions."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = int(round(share * len(frame)))
    test = np.zeros(len(frame), dtype=bool)
    test[order[:n_test]] = True
    return frame[~test].reset_index(drop=True), frame[test].reset_index(drop=True)


def day_block_split(frame: pd.DataFrame, column: str,
                    first_day: int = TEST_FIRST_DAY) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, pseudo-test): test = whole days `first_day`.. of each month, as bike-sharing-demand."""
    test = pd.to_datetime(frame[column]).dt.day >= first_day
    return frame[~test].reset_index(drop=True), frame[test].reset_index(drop=True)


def split(competition: Competition, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The competition's rows for this seed, split as its real test was."""
    frame = competition.load(seed)
    if competition.split == "days":
        return day_block_split(frame, competition.id)
    return random_split(frame, seed)


def placeholder(y: pd.Series, classification: bool) -> object:
    """The sample submission's value: the commonest label, else the training mean (an integer
    for an integer target)."""
    if classification:
        return y.mode().iloc[0]
    mean = float(y.mean())
    return int(round(mean)) if pd.api.types.is_integer_dtype(y) else round(mean, 2)


def write_folder(folder: Path, competition: Competition, train: pd.DataFrame, test: pd.DataFrame,
                 names: dict[str, str] | None = None, classification: bool = False,
                 copies: dict[str, Path] | None = None) -> pd.DataFrame:
    """Write train.csv, test.csv (no target, no train-only columns) and the sample submission
    (`names`: role -> file name, for a shipped block's Kaggle names), and copy `copies` (file
    name -> source: House Prices' data description); returns the held-out labels (id, target)."""
    names = {"train": "train.csv", "test": "test.csv", "sample_submission": "sample_submission.csv",
             **(names or {})}
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / names["train"], index=False)
    hidden = [competition.target, *competition.train_only]
    test.drop(columns=hidden).to_csv(folder / names["test"], index=False)
    sample = pd.DataFrame({competition.id: test[competition.id],
                           competition.target: placeholder(train[competition.target], classification)})
    sample.to_csv(folder / names["sample_submission"], index=False)
    for name, source in (copies or {}).items():
        shutil.copy2(source, folder / name)
    return test[[competition.id, competition.target]].copy()
