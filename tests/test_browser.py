"""What a person sees in the MLflow UI, checked in a real browser (Debian's Chromium, headless).

A real `dvc repro` of a tiny House Prices pipeline fills a store, a user changes `mlp.lr` and
reruns, then `mlflow server` serves that store on 127.0.0.1 and Playwright opens the pages that
`cli.py ui` prints: the experiment's runs page, the compare view of the two `cv:mlp` runs and a
fold run's metric charts. Screenshots land in $PIPELINE_SCREENSHOTS (default
.artifacts/browser/ in the repo, git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import base_name, free_port

from pipeline import REPO_ROOT
from pipeline import ui as mlflow_ui

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                 "(pip install -r requirements-dev.txt)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium (.ci/run does)")]

TINY = {"house.cv.folds": 3, "house.blend.models": ["elastic_net", "mlp"], "house.models.mlp.epochs": 8}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def pipeline_store(tmp_path_factory) -> str:
    """An MLflow store made by real `dvc repro` runs: the tiny pipeline, then `mlp.lr` changed."""
    from sandbox import copy_repo

    if not os.environ.get("PIPELINE_DATA_MIRROR"):
        pytest.skip("no dataset mirror")
    repo = copy_repo(tmp_path_factory.mktemp("browser") / "repo")
    env_uri = os.environ.pop("MLFLOW_TRACKING_URI", None)  # the stages log to the copy's mlflow.db
    try:
        repo.set_params(**TINY)
        repo.dvc("repro", "house_blend")
        repo.set_params(**{"house.models.mlp.lr": 0.001})
        repo.dvc("repro", "house_blend")
    finally:
        if env_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env_uri
    return f"sqlite:///{repo.path / 'mlflow.db'}"


@pytest.fixture(scope="module")
def ui(pipeline_store):
    port = free_port()
    server = mlflow_ui.start_server(pipeline_store, port, timeout=180, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    yield f"http://127.0.0.1:{port}"
    mlflow_ui.stop(server)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("PIPELINE_SCREENSHOTS") or REPO_ROOT / ".artifacts" / "browser")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(browser, url: str, ready: str, settle_ms: int = 1500):
    """Open `url` and wait until the page shows the text `ready` (the UI keeps polling: no network idle)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url)
    page.get_by_text(ready).first.wait_for(timeout=90_000)
    page.wait_for_timeout(settle_ms)
    close = page.get_by_role("button", name="Close")  # MLflow's assistant panel opens on a first visit
    if close.count():
        close.first.click()
        page.wait_for_timeout(500)
    return page


def _client(store: str):
    import mlflow

    return mlflow.MlflowClient(store)


def test_runs_page_is_the_model_training_view_with_meaningful_run_names(pipeline_store, ui, browser, screenshots):
    experiment = _client(pipeline_store).get_experiment_by_name("house-prices")
    url = mlflow_ui.ui_url(pipeline_store, ui, "house-prices")  # what `cli.py ui` prints
    assert url == mlflow_ui.runs_page_url(ui, experiment.experiment_id)
    page = _open(browser, url, ready="cv:elastic_net@")
    page.screenshot(path=str(screenshots / "runs.png"))
    text = page.inner_text("body")
    assert "Token Usage" not in text and "Latency" not in text  # not the GenAI overview
    names = [line.strip() for line in text.splitlines() if line.strip().startswith(("cv:", "blend@"))]
    assert sum(base_name(n) == "cv:mlp" for n in names) == 2, names  # before and after the lr change
    assert any(base_name(n) == "cv:elastic_net" for n in names) and len(set(names)) == len(names)


def test_compare_view_of_two_cv_runs_shows_the_changed_param_and_the_score(pipeline_store, ui, browser,
                                                                           screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("house-prices")
    parents = [r for r in client.search_runs([experiment.experiment_id], "tags.stage = 'cv' and tags.model = 'mlp'")
               if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2
    page = _open(browser, mlflow_ui.compare_url(ui, experiment.experiment_id, [r.info.run_id for r in parents]),
                 ready="valid_log_rmse_mean")
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)
    text = page.inner_text("body")
    assert "Comparing 2 Runs" in text
    for run in parents:
        assert run.info.run_name in text
    lr_row = next(line for line in text.splitlines() if line.startswith("model.lr\t"))  # the params table
    assert "0.001" in lr_row and "0.003" in lr_row  # the param the user changed, side by side
    assert "valid_log_rmse_mean" in text
    # the parallel-coordinates plot draws the changed param against the score
    axis_titles = page.locator(".parcoords .axis-title").evaluate_all("els => els.map(e => e.textContent)")
    assert "model.lr" in axis_titles and "valid_log_rmse_mean" in axis_titles, axis_titles


def test_a_fold_run_shows_real_curves(pipeline_store, ui, browser, screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("house-prices")
    fold = next(r for r in client.search_runs([experiment.experiment_id], "tags.model = 'mlp' and tags.fold = '1'"))
    page = _open(browser, f"{ui}/#/experiments/{experiment.experiment_id}/runs/{fold.info.run_id}/model-metrics"
                          f"?{mlflow_ui.ML_WORKFLOW}", ready="valid_log_rmse")
    page.screenshot(path=str(screenshots / "fold-curves.png"))
    lines = page.locator(".scatterlayer .trace path.js-line").evaluate_all("els => els.map(e => e.getAttribute('d'))")
    points = [d.count("L") + 1 for d in lines if d]
    assert points and max(points) == TINY["house.models.mlp.epochs"], points  # one point per epoch, not one
    assert "valid_log_rmse" in page.inner_text("body")
