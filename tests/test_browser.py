"""What a person sees in the MLflow UI, checked in a real browser (Debian's Chromium, headless).

A real `dvc repro` of a tiny House Prices pipeline fills a store, a user changes `mlp.lr` and
reruns, then `mlflow server` serves that store on 127.0.0.1 (as `cli.py ui` does) and Playwright
opens the pages that `cli.py ui` prints: the experiment's runs page on its saved view (the score
and the changed param as columns, best first), the compare view of the two `cv:mlp` runs (by URL,
and by pressing Compare on the runs page) and a fold run's metric charts, each URL with the
session's token as `cli.py ui` prints it (without it: 403). Screenshots land in
$PIPELINE_SCREENSHOTS (default .artifacts/browser/ in the repo, git-ignored) for a person to look at.
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

TINY = {"competitions.house-prices.cv.folds": 3, "competitions.house-prices.blend.models": ["elastic_net", "mlp"],
        "competitions.house-prices.models.mlp.epochs": 8}
TITANIC = {"competitions.titanic.cv.folds": 3, "competitions.titanic.blend.models": ["lightgbm"]}
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
        repo.dvc("repro", "house_prices_blend")
        repo.set_params(**{"competitions.house-prices.models.mlp.lr": 0.001})
        repo.dvc("repro", "house_prices_blend")
        repo.set_params(**TITANIC)  # a competition ranked by accuracy: higher is better
        repo.dvc("repro", "titanic_blend")
        repo.set_params(**{"competitions.titanic.models.lightgbm.num_leaves": 31})
        repo.dvc("repro", "titanic_blend")
    finally:
        if env_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env_uri
    return f"sqlite:///{repo.path / 'mlflow.db'}"


@pytest.fixture(scope="module")
def server(pipeline_store):
    port = free_port()
    process = mlflow_ui.start_server(pipeline_store, port, timeout=180, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
    yield f"http://127.0.0.1:{port}", process.token
    mlflow_ui.stop(process)


@pytest.fixture(scope="module")
def ui(server) -> str:
    return server[0]


@pytest.fixture(scope="module")
def token(server) -> str:
    """The session's token: every URL `cli.py ui` prints carries it (`ui.with_token`)."""
    return server[1]


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


def _columns(page) -> list[str]:
    """The runs table's column ids, as MLflow names them: metrics.`name`, params.`name`."""
    return page.locator(".ag-header-cell[col-id]").evaluate_all("els => els.map(e => e.getAttribute('col-id'))")


def _sidebar_mode(page) -> str:
    """The mode MLflow's sidebar is in: its model-training items, or its GenAI ones."""
    text = page.locator("nav, aside").first.inner_text() if page.locator("nav, aside").count() else ""
    text = text or page.inner_text("body")
    if "Evaluation runs" in text or "Prompts" in text:
        return "genai"
    return "machine_learning" if "Model registry" in text else "unknown"


def test_runs_page_opens_on_the_score_and_the_changed_param_in_the_model_training_view(pipeline_store, ui, token,
                                                                                       browser, screenshots):
    experiment = _client(pipeline_store).get_experiment_by_name("house-prices")
    url = mlflow_ui.ui_url(pipeline_store, ui, "house-prices")  # what `cli.py ui` prints (and saves the view) ...
    assert url == mlflow_ui.runs_page_url(ui, experiment.experiment_id, "cli-ui", mode=False)
    page = _open(browser, mlflow_ui.with_token(url, token), ready="cv:elastic_net@")  # ... with its token
    page.screenshot(path=str(screenshots / "runs.png"))
    # the runs table filled: the page's own API calls carried the cookie its first load set
    cookies = {c["name"]: c for c in page.context.cookies()}
    cookie = cookies[f"pipeline_ui_{ui.rsplit(':', 1)[1]}"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] == token
    text = page.inner_text("body")
    assert "Token Usage" not in text and "Latency" not in text  # not the GenAI overview
    assert _sidebar_mode(page) == "machine_learning"
    names = [line.strip() for line in text.splitlines() if line.strip().startswith(("cv:", "blend@"))]
    assert sum(base_name(n) == "cv:mlp" for n in names) == 2, names  # before and after the lr change
    assert any(base_name(n) == "cv:elastic_net" for n in names) and len(set(names)) == len(names)
    # the saved view: the headline scores and the param the user changed are columns ...
    columns = _columns(page)
    assert {"metrics.`oof_log_rmse_without_outliers`", "metrics.`valid_log_rmse_mean`",
            "params.`model.lr`"} <= set(columns), columns
    assert not any(c.startswith("params.`model.") and c != "params.`model.lr`" for c in columns), columns
    # ... and the runs are sorted by the score, best first: the blend, then the better model
    assert "Sort: oof_log_rmse_without_outliers" in text
    assert names[0].startswith("blend@") and names[1].startswith("blend@"), names


def test_a_competition_ranked_by_accuracy_opens_best_first_on_its_own_score(pipeline_store, ui, token, browser,
                                                                            screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("titanic")
    accuracy = {r.info.run_name: r.data.metrics["oof_accuracy"]
                for r in client.search_runs([experiment.experiment_id]) if "oof_accuracy" in r.data.metrics}
    page = _open(browser, mlflow_ui.with_token(mlflow_ui.ui_url(pipeline_store, ui, "titanic"), token),
                 ready="cv:lightgbm@")
    page.screenshot(path=str(screenshots / "titanic-runs.png"))
    text = page.inner_text("body")
    columns = _columns(page)
    assert {"metrics.`oof_accuracy`", "metrics.`valid_accuracy_mean`", "params.`model.num_leaves`"} <= set(columns)
    assert "Sort: oof_accuracy" in text
    shown = [line.strip() for line in text.splitlines() if line.strip() in accuracy]
    assert len(shown) == len(accuracy) == 4, (shown, accuracy)  # cv and blend, before and after the change
    assert [accuracy[n] for n in shown] == sorted(accuracy.values(), reverse=True), shown  # highest first


def test_pressing_compare_on_the_runs_page_stays_in_the_model_training_view(pipeline_store, ui, token, browser,
                                                                           screenshots):
    page = _open(browser, mlflow_ui.with_token(mlflow_ui.ui_url(pipeline_store, ui, "house-prices"), token),
                 ready="cv:elastic_net@")
    assert page.evaluate("localStorage.getItem('mlflow.workflowType_v1')") == '"machine_learning"'
    indexes = page.locator("[role=row]").evaluate_all(
        "rows => rows.filter(r => r.innerText.split('\\n').some(line => line.startsWith('cv:mlp@')))"
        ".map(r => r.getAttribute('row-index'))")
    indexes = list(dict.fromkeys(i for i in indexes if i is not None))
    assert len(indexes) == 2, indexes
    for index in indexes:
        page.locator(f"[role=row][row-index='{index}'] input[type=checkbox]").first.check(force=True)
        page.wait_for_timeout(300)
    page.get_by_role("button", name="Compare").first.click()
    page.get_by_text("Comparing 2 Runs").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshots / "compare-pressed.png"))
    assert "/compare-runs?" in page.url and "workflowType" not in page.url  # the UI's own link drops it ...
    assert _sidebar_mode(page) == "machine_learning"  # ... and the page stays in model training anyway
    assert "model.lr" in page.inner_text("body")


def test_compare_view_of_two_cv_runs_shows_the_changed_param_and_the_score(pipeline_store, ui, token, browser,
                                                                           screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("house-prices")
    parents = [r for r in client.search_runs([experiment.experiment_id], "tags.stage = 'cv' and tags.model = 'mlp'")
               if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2
    url = mlflow_ui.compare_url(ui, experiment.experiment_id, [r.info.run_id for r in parents])
    page = _open(browser, mlflow_ui.with_token(url, token), ready="valid_log_rmse_mean")
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


def test_a_fold_run_shows_real_curves(pipeline_store, ui, token, browser, screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("house-prices")
    fold = next(r for r in client.search_runs([experiment.experiment_id], "tags.model = 'mlp' and tags.fold = '1'"))
    url = f"{ui}/#/experiments/{experiment.experiment_id}/runs/{fold.info.run_id}/model-metrics?{mlflow_ui.ML_WORKFLOW}"
    page = _open(browser, mlflow_ui.with_token(url, token), ready="valid_log_rmse")
    page.screenshot(path=str(screenshots / "fold-curves.png"))
    lines = page.locator(".scatterlayer .trace path.js-line").evaluate_all("els => els.map(e => e.getAttribute('d'))")
    points = [d.count("L") + 1 for d in lines if d]
    epochs = TINY["competitions.house-prices.models.mlp.epochs"]
    assert points and max(points) == epochs, points  # one point per epoch, not one
    assert "valid_log_rmse" in page.inner_text("body")


def test_without_the_token_the_browser_gets_403_on_the_page_and_the_api(pipeline_store, ui, browser):
    page = browser.new_page()  # a fresh context: no cookie
    answer = page.goto(mlflow_ui.ui_url(pipeline_store, ui, "house-prices"))
    assert answer.status == 403 and "answers its own user only" in page.inner_text("body")
    assert page.request.get(f"{ui}/ajax-api/2.0/mlflow/experiments/search?max_results=5").status == 403
    page.close()
