"""Where a competition's stages read and write beyond the standard metrics/plots/runs files of
`pipeline.stage.StageOutputs` (the competition's block in dvc.yaml declares the same paths).

Every competition has its own folders, named by its key under `competitions:` in params.yaml:
`data/raw/<key>`, `data/processed/<key>`, `data/interim/<key>`, `models/<key>`, `plots/<key>`,
`metrics/<key>`. Its submission is `data/submissions/<key>.csv`, except House Prices', which
stays where it always was: `data/submission.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline import REPO_ROOT

HOUSE_PRICES = "house-prices"


def submission_file(key: str, root: Path = REPO_ROOT) -> Path:
    """The competition's submission CSV (House Prices keeps its historic path)."""
    return root / "data" / ("submission.csv" if key == HOUSE_PRICES else f"submissions/{key}.csv")


def stage_stem(key: str) -> str:
    """The prefix of the competition's stage names in dvc.yaml: `house-prices` -> `house_prices`."""
    return key.replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class CompetitionPaths:
    key: str
    root: Path = REPO_ROOT

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw" / self.key

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed" / self.key

    @property
    def interim(self) -> Path:
        return self.root / "data" / "interim" / self.key

    @property
    def models(self) -> Path:
        return self.root / "models" / self.key

    @property
    def plots(self) -> Path:
        return self.root / "plots" / self.key

    @property
    def submission(self) -> Path:
        return submission_file(self.key, self.root)

    def oof(self, model: str) -> Path:
        return self.interim / f"oof_{model}.csv"

    def model_file(self, model: str) -> Path:
        return self.models / f"{model}.pkl"

    @property
    def blend_weights(self) -> Path:
        return self.models / "blend.json"

    @property
    def oof_plot(self) -> Path:
        """The blend's out-of-fold predictions against the truth."""
        return self.plots / "oof.png"

    @property
    def cv_scores(self) -> Path:
        """The blend's out-of-fold scores (the blend stage): the competition's headline score."""
        return self.root / "metrics" / self.key / "cv.json"
