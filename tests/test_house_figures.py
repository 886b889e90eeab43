"""House Prices charts mean what they draw: a model that trains in steps gets its curves, one that
fits in one go (svr, spline_net) gets each fold's scores against the fold, never a one-point
"epoch" line; labels and legends name only what is drawn; dvc.yaml's plots read the tables' columns."""

from __future__ import annotations

import csv

import pytest
import yaml

from pipeline import REPO_ROOT
from pipeline.tabular import figures
from pipeline.tabular.config import load_competition
from pipeline.tabular.train import FoldResult


def _folds(history: bool, train: bool = True) -> list[FoldResult]:
    folds = []
    for k in range(3):
        curves = {"valid_log_rmse": [0.2 - k / 100, 0.15, 0.13 + k / 100]}
        if train:
            curves["train_log_rmse"] = [0.19, 0.1, 0.08]
        folds.append(FoldResult(k, 970, 490, 0.07 + k / 1000, 0.12 + k / 100, curves if history else {}))
    return folds


@pytest.fixture
def drawn(monkeypatch):
    """The figures `plot_fold_curves` draws, kept open instead of saved."""
    figures_drawn = []

    def keep(path, fig):
        figures_drawn.append(fig)
        return path

    monkeypatch.setattr(figures, "save_figure", keep)
    yield figures_drawn
    import matplotlib.pyplot as plt

    for fig in figures_drawn:
        plt.close(fig)


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_a_model_without_iterations_gets_each_folds_scores_against_the_fold(tmp_path, drawn):
    folds = _folds(history=False)
    curve, per_fold = figures.write_tables(tmp_path / "cv_svr.csv", tmp_path / "cv_svr_folds.csv", folds,
                                           "log_rmse")
    assert curve.read_text() == "step,train_log_rmse,valid_log_rmse\n"  # no curve: the header alone
    rows = list(csv.DictReader(per_fold.open()))
    assert [(r["fold"], float(r["valid_log_rmse"]), float(r["train_log_rmse"])) for r in rows] == [
        ("1", 0.12, 0.07), ("2", 0.13, 0.071), ("3", 0.14, 0.072)]

    figures.plot_fold_curves(tmp_path / "cv_svr.png", folds, title="svr: 3-fold log_rmse", metric="log_rmse")
    ax = drawn[0].axes[0]
    assert ax.get_xlabel() == "fold" and list(ax.get_xticks()) == [1, 2, 3]  # not an "epoch" axis
    assert _legend(ax) == ["valid (held-out fold)", "train (other folds)"]
    assert [list(line.get_xdata()) for line in ax.get_lines()] == [[1, 2, 3], [1, 2, 3]]
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([0.12, 0.13, 0.14])
    assert all(line.get_linestyle() == "None" for line in ax.get_lines())  # points: folds are not a sequence
    assert "dashed" not in ax.get_ylabel() + " ".join(_legend(ax))


def test_curves_name_the_dashed_train_line_only_where_one_is_drawn(tmp_path, drawn):
    folds = _folds(history=True)
    curve, _ = figures.write_tables(tmp_path / "cv_mlp.csv", tmp_path / "cv_mlp_folds.csv", folds, "log_rmse")
    assert [r["step"] for r in csv.DictReader(curve.open())] == ["1", "2", "3"]
    figures.plot_fold_curves(tmp_path / "cv_mlp.png", folds, title="mlp", metric="log_rmse",
                             xlabel="epoch")
    figures.plot_fold_curves(tmp_path / "cv_x.png", _folds(history=True, train=False), title="x",
                             metric="log_rmse", xlabel="epoch")
    with_train, valid_only = (fig.axes[0] for fig in drawn)
    assert with_train.get_xlabel() == "epoch"
    assert _legend(with_train) == ["fold 1 valid", "fold 2 valid", "fold 3 valid", "train (dashed, fold colour)"]
    assert sum(line.get_linestyle() == "--" for line in with_train.get_lines()) == 3
    assert _legend(valid_only) == ["fold 1 valid", "fold 2 valid", "fold 3 valid"]  # no train line, no train entry
    assert not any(line.get_linestyle() == "--" for line in valid_only.get_lines())


def test_dvc_yaml_plots_of_house_train_read_columns_its_tables_have(tmp_path):
    plots = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]["house_prices_train"]["do"]["plots"]
    metric = load_competition("house-prices").metric
    assert metric == "log_rmse"  # the metric the tables below are written with
    # DVC interpolates the competition's metric into the column names: resolved as it does
    drawn = {path.removeprefix("plots/house-prices/cv_${item}"):
             {k: v.replace("${competitions.house-prices.metric}", metric) if isinstance(v, str) else v
              for k, v in props.items()}
             for entry in plots for path, props in entry.items() if props.get("x")}
    assert set(drawn) == {".csv", "_folds.csv"}
    for history in (True, False):
        written = figures.write_tables(tmp_path / "cv_m.csv", tmp_path / "cv_m_folds.csv", _folds(history), metric)
        for suffix, path in zip((".csv", "_folds.csv"), written):
            header = path.read_text().splitlines()[0].split(",")
            assert {drawn[suffix]["x"], drawn[suffix]["y"]} <= set(header), (suffix, header)
