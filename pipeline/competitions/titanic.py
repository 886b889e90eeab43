"""Titanic's features: titles, families, ticket groups, decks and fares, then the generic encoding.

`engineer` turns a passenger's own fields into the columns the survival literature finds useful
(the title in the name, the family aboard, the ticket group travelling together, the deck of the
cabin, the fare per person), using only statistics fitted on the stats rows' features: how many
rows share each ticket, the median age of each title, the median fare of each class, the most
common port. Labels never enter: `Preprocessor.fit` refuses rows holding `Survived`, and the
engineering drops the id and the target from any frame it is given. Group-survival features
("did this family survive?") need the labels of other rows, so they are not made here: the
generic out-of-fold group statistics (pipeline/tabular/group_stats.py) find the family name and
the ticket and compute them inside each training fold.

The engineered frame is then encoded by the generic preprocessor (`pipeline/tabular/features.py`:
numbers standardized with missing -> 0, categories one-hot with a missing indicator), whose
fitted state travels inside this one's JSON, so test rows repeat the training features exactly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipeline.errors import DataError, MissingColumns
from pipeline.files import write_json
from pipeline.params import require
from pipeline.tabular import features as generic
from pipeline.tabular.numbers import finite

ID, TARGET = "PassengerId", "Survived"
# Raw columns the engineering consumes: read for their parts, then left out of the encoding
# (as raw levels they are near-unique: names, 929 tickets, 186 cabins).
CONSUMED = ("Name", "Ticket", "Cabin")
COMMON_TITLES = ("Mr", "Mrs", "Miss", "Master")
TITLE_SYNONYMS = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}  # French and modern forms
RARE_TITLE = "Rare"  # Dr, Rev, Col, Major, Capt, Sir, Lady, the Countess, Don, Dona, Jonkheer
LARGE_FAMILY = 5  # FamilySize from which a family is "large" (their survival falls sharply)


@dataclass
class Params:
    """`competitions.titanic.features` in params.yaml (without `module`): the switches of each
    engineering step and the generic encoder's settings."""

    stats_from: Literal["train", "train_and_test"] = "train_and_test"  # rows the statistics come from
    title: bool = True  # Title from Name: Mr, Mrs, Miss, Master, Rare
    family: bool = True  # FamilySize = SibSp + Parch + 1, IsAlone, LargeFamily
    ticket_group: bool = True  # TicketGroupSize: rows sharing the ticket among the stats rows
    ticket_prefix: bool = False  # TicketPrefix: the letters before the number ("PC", "CA", "NUM")
    cabin: Literal["none", "has_cabin", "deck"] = "deck"  # deck: Deck letter (no cabin -> Deck_nan)
    fare_per_person: bool = True  # Fare / TicketGroupSize
    log_fare: bool = True  # log1p of Fare (and of FarePerPerson)
    age_fill: Literal["none", "median", "title_median"] = "title_median"  # none: the generic mean fill
    age_missing: bool = False  # AgeMissing flag, set before the fill
    pclass: Literal["number", "category", "both"] = "category"  # both: Pclass and Pclass_1..3
    sex_class: bool = True  # SexClass category: female_1 .. male_3 (the interaction linear models lack)
    embarked_mode: bool = True  # a missing Embarked -> the most common port (else Embarked_nan)
    max_categories: int = 30  # the generic encoder's settings
    min_category_count: int = 1
    drop_columns: list[str] = field(default_factory=list)  # engineered or raw columns to leave out

    def validate(self, where: str) -> None:
        require(self.max_categories >= 1, f"{where}.max_categories", f"must be >= 1, got {self.max_categories}")
        require(self.min_category_count >= 0, f"{where}.min_category_count",
                f"must be >= 0, got {self.min_category_count}")
        require(len(set(self.drop_columns)) == len(self.drop_columns), f"{where}.drop_columns",
                f"has duplicates: {self.drop_columns}")


def title_of(names: pd.Series) -> pd.Series:
    """The title between the comma and the first full stop ("Braund, Mr. Owen Harris" -> "Mr"),
    synonyms merged, uncommon titles as "Rare"; a name without one is missing."""
    raw = names.astype("string").str.extract(r",\s*([^.]+?)\s*\.", expand=False)
    title = raw.replace(TITLE_SYNONYMS)
    grouped = title.where(title.isin(COMMON_TITLES) | title.isna(), RARE_TITLE)
    return grouped.astype(object).where(grouped.notna(), None)


def ticket_prefix_of(tickets: pd.Series) -> pd.Series:
    """The ticket's letters without punctuation ("STON/O2. 3101282" -> "STONO2"); "NUM" for a
    ticket that is only a number."""
    text = tickets.astype("string").str.strip()
    head = text.str.replace(r"\s*\d+$", "", regex=True).str.replace(r"[./\s]", "", regex=True).str.upper()
    prefix = head.where(head.str.len() > 0, "NUM")
    return prefix.astype(object).where(prefix.notna(), None)


def _needed(p: Params) -> list[str]:
    """Raw columns the switched-on engineering reads (the generic encoder checks its own)."""
    cols = []
    if p.title or p.age_fill == "title_median":
        cols.append("Name")
    if p.family:
        cols += ["SibSp", "Parch"]
    if p.ticket_group or p.ticket_prefix or p.fare_per_person:
        cols.append("Ticket")
    if p.fare_per_person or p.log_fare:
        cols.append("Fare")
    if p.cabin != "none":
        cols.append("Cabin")
    if p.age_fill != "none" or p.age_missing:
        cols.append("Age")
    if p.sex_class:
        cols += ["Sex", "Pclass"]
    if p.embarked_mode:
        cols.append("Embarked")
    return list(dict.fromkeys(cols))


def _check_columns(frame: pd.DataFrame, p: Params, when: str) -> None:
    missing = [c for c in _needed(p) if c not in frame.columns]
    if missing:
        raise MissingColumns(f"titanic features: missing column(s) {', '.join(map(repr, missing))} at {when} "
                             f"(the switched-on engineering reads them; the columns are: "
                             f"{', '.join(map(str, frame.columns))})", missing,
                             "the switched-on engineering of competitions.titanic.features")


@dataclass
class Stats:
    """What the engineering learns from the stats rows' features (never the target)."""

    ticket_counts: dict[str, int] = field(default_factory=dict)
    age_medians: dict[str, float] = field(default_factory=dict)  # Title -> median Age
    age_default: float = 0.0
    fare_medians: dict[str, float] = field(default_factory=dict)  # Pclass -> median Fare
    fare_default: float = 0.0
    embarked_mode: str | None = None

    @classmethod
    def fit(cls, rows: pd.DataFrame, p: Params) -> Stats:
        stats = cls()
        if "Ticket" in rows:
            counts = rows["Ticket"].dropna().astype(str).value_counts()
            stats.ticket_counts = {str(k): int(v) for k, v in counts.items()}
        if "Age" in rows:
            age = _number(rows["Age"])
            stats.age_default = _median(age)
            if "Name" in rows:
                medians = age.groupby(title_of(rows["Name"]).to_numpy()).median().dropna()
                stats.age_medians = {str(k): float(v) for k, v in medians.items()}
        if "Fare" in rows:
            fare = _number(rows["Fare"])
            stats.fare_default = _median(fare)
            if "Pclass" in rows:
                medians = fare.groupby(_class_label(rows["Pclass"]).to_numpy()).median()
                stats.fare_medians = {str(k): float(v) for k, v in medians.dropna().items()}
        if "Embarked" in rows and rows["Embarked"].notna().any():
            counts = rows["Embarked"].dropna().astype(str).value_counts()
            stats.embarked_mode = str(min(counts[counts == counts.max()].index))  # ties: by name
        return stats


def _class_label(values: pd.Series) -> pd.Series:
    """Pclass as a label: 3, 3.0 and "3" all read "3"; missing (or not a number) -> None."""
    numbers = _number(values)
    labels = numbers.round().astype("Int64").astype("string")
    return labels.astype(object).where(numbers.notna(), None)


def _number(values: pd.Series) -> pd.Series:
    """A column as numbers: text and infinities are missing (as in the generic encoding), so a
    missing fare or age and an infinite one get the same fill."""
    return finite(pd.to_numeric(values, errors="coerce"))


def _median(values: pd.Series) -> float:
    return float(values.median()) if values.notna().any() else 0.0


def engineer(frame: pd.DataFrame, p: Params, stats: Stats) -> pd.DataFrame:
    """The engineered columns of each row, from its own fields and the fitted `stats` only.
    The id and the target are dropped first; Name, Ticket and Cabin are consumed."""
    df = frame.drop(columns=[c for c in (ID, TARGET) if c in frame.columns]).copy()
    title = title_of(df["Name"]) if "Name" in df else None
    if p.title and title is not None:
        df["Title"] = title
    if p.family:
        df["FamilySize"] = _number(df["SibSp"]) + _number(df["Parch"]) + 1
        df["IsAlone"] = (df["FamilySize"] == 1).astype(float).where(df["FamilySize"].notna())
        df["LargeFamily"] = (df["FamilySize"] >= LARGE_FAMILY).astype(float).where(df["FamilySize"].notna())
    group = None
    if "Ticket" in df and (p.ticket_group or p.fare_per_person):
        # A ticket the stats rows never saw (stats_from: train, a test row) is a group of one.
        group = df["Ticket"].astype(str).map(stats.ticket_counts).fillna(0).clip(lower=1).astype(float)
        if p.ticket_group:
            df["TicketGroupSize"] = group
    if p.ticket_prefix:
        df["TicketPrefix"] = ticket_prefix_of(df["Ticket"])
    if p.cabin == "has_cabin":
        df["HasCabin"] = df["Cabin"].notna().astype(float)
    elif p.cabin == "deck":
        deck = df["Cabin"].astype("string").str.strip().str[0]
        df["Deck"] = deck.astype(object).where(deck.notna(), None)
    if "Fare" in df:
        fare = _number(df["Fare"])
        if fare.isna().any():  # one test passenger has no fare: the median of the class
            by_class = _class_label(df["Pclass"]).map(stats.fare_medians) \
                if "Pclass" in df else pd.Series(np.nan, index=df.index)
            fare = fare.fillna(by_class.astype(float)).fillna(stats.fare_default)
        per_person = fare / group if p.fare_per_person and group is not None else None
        df["Fare"] = np.log1p(fare.clip(lower=0)) if p.log_fare else fare
        if per_person is not None:
            df["FarePerPerson"] = np.log1p(per_person.clip(lower=0)) if p.log_fare else per_person
    if "Age" in df:
        age = _number(df["Age"])
        if p.age_missing:
            df["AgeMissing"] = age.isna().astype(float)
        if p.age_fill == "title_median" and title is not None:
            age = age.fillna(title.map(stats.age_medians).astype(float))
        if p.age_fill != "none":
            age = age.fillna(stats.age_default)
        df["Age"] = age
    if p.sex_class:
        sex_class = df["Sex"].astype("string") + "_" + _class_label(df["Pclass"]).astype("string")
        df["SexClass"] = sex_class.astype(object).where(sex_class.notna(), None)
    if p.embarked_mode and stats.embarked_mode is not None:
        df["Embarked"] = df["Embarked"].astype(object).where(df["Embarked"].notna(), stats.embarked_mode)
    if p.pclass == "both" and "Pclass" in df:
        df["PclassLevel"] = _class_label(df["Pclass"])
    return df.drop(columns=[c for c in CONSUMED if c in df])


def _generic_params(p: Params, columns: list[str]) -> generic.Params:
    categorical = ["Pclass"] if p.pclass == "category" and "Pclass" in columns else []
    return generic.Params(stats_from=p.stats_from, max_categories=p.max_categories,
                          min_category_count=p.min_category_count, drop_columns=list(p.drop_columns),
                          categorical=categorical)


@dataclass
class Preprocessor:
    """Fitted Titanic feature state: the engineering's statistics and the generic encoder's state."""

    params: Params
    stats: Stats = field(default_factory=Stats)
    encoder: generic.Preprocessor | None = None
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, rows: pd.DataFrame, params: Params) -> Preprocessor:
        """Learn the statistics from `rows`: feature columns only (train, or train and test rows)."""
        if TARGET in rows.columns:
            raise DataError(f"titanic features: the stats rows hold the target {TARGET!r}; fit on feature "
                            f"columns only (labels must not shape the features)")
        if rows.empty:
            raise DataError("no rows to fit the feature statistics on")
        _check_columns(rows, params, "fit")
        stats = Stats.fit(rows, params)
        engineered = engineer(rows, params, stats)
        encoder = generic.Preprocessor.fit(engineered, _generic_params(params, list(engineered.columns)))
        notes = [f"{c}: read for {_use(c, params)}, then left out" for c in CONSUMED if c in rows.columns]
        return cls(params, stats, encoder, list(encoder.columns), notes + list(encoder.notes))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features for `frame` (any extra columns, the id and target included, are ignored) in
        exactly `self.columns` order, float32."""
        _check_columns(frame, self.params, "transform")
        return self.encoder.transform(engineer(frame, self.params, self.stats))

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "stats": asdict(self.stats), "encoder": self.encoder.to_dict(),
                "columns": list(self.columns), "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        return cls(Params(**state["params"]), Stats(**state["stats"]),
                   generic.Preprocessor.from_dict(state["encoder"]), list(state["columns"]), list(state["notes"]))

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _use(column: str, p: Params) -> str:
    uses = {"Name": ["Title"] * p.title + ["the age fill"] * (p.age_fill == "title_median"),
            "Ticket": ["TicketGroupSize"] * p.ticket_group + ["TicketPrefix"] * p.ticket_prefix
            + ["FarePerPerson"] * p.fare_per_person,
            "Cabin": {"deck": ["Deck"], "has_cabin": ["HasCabin"]}.get(p.cabin, [])}[column]
    return ", ".join(uses) if uses else "nothing (its steps are off)"
