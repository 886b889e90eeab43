"""What a person sees in the MLflow UI, checked in a real browser (Debian's Chromium, headless).

A real `dvc repro` of a tiny House Prices pipeline fills a store, a user changes `mlp.lr` and
reruns, then `mlflow server` serves that store on 127.0.0.1 (as `cli.py ui` does) and Playwright
opens the pages that `cli.py ui` prints: the experiment's runs page on its saved view (the score
and the changed param as columns, best first), the compare view of the two `cv:mlp` runs (by URL,
and by pressing Compare on the runs page) and a fold run's metric charts, each URL with the
session's token as `cli.py ui` prints it (without it: 403). The store also holds two
regularization stages and an rnn stage: every experiment is clicked into from the experiments
list and must open on its saved view (columns, sort in the headline's direction, widths that show
values whole). Screenshots land in $PIPELINE_SCREENSHOTS (default .artifacts/browser/ in the repo,
git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import TINY_RNN, base_name, free_port

from pipeline import REPO_ROOT, scores, ui_views
from pipeline import ui as mlflow_ui

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                 "(pip install -r requirements-dev.txt)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium (.ci/run does)")]

TINY = {"competitions.house-prices.cv.folds": 3, "competitions.house-prices.blend.models": ["elastic_net", "mlp"],
        "competitions.house-prices.models.mlp.epochs": 8}
TITANIC = {"competitions.titanic.cv.folds": 3, "competitions.titanic.blend.models": ["lightgbm"]}
REGULARIZATION = {"regularization.polynomial.epochs": 4, "regularization.weight_decay.epochs": 2,
                  "regularization.weight_decay.lambdas": [0, 3]}
RNN = {**TINY_RNN, "rnn.train.epochs": 3, "rnn.corpora.jaychou-lyrics.max_tokens": 600,
       "rnn.experiments.lyrics-lstm-concise.train": {"epochs": 3}}
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
        repo.set_params(**REGULARIZATION)  # two of regularization's four experiments, in one MLflow experiment
        repo.dvc("repro", "-s", "reg_polynomial", "reg_weight_decay")
        repo.set_params(**RNN)
        repo.dvc("repro", "rnn_train@lyrics-lstm-concise")
    finally:
        if env_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env_uri
    store = f"sqlite:///{repo.path / 'mlflow.db'}"
    _log_committed_rnn_curve(store, "lyrics-lstm-concise")
    return store


def _log_committed_rnn_curve(store: str, name: str) -> None:
    """The full-size run's perplexity curve (469 -> 1.06 over 30 epochs: the repo's committed
    plots/rnn/<name>.csv) as one more run of that stage, with its params: a tiny run's curve spans
    no decade, and the chart view's log axis is for the ones that do."""
    import csv

    from mlflow.entities import Metric, Param

    client = _client(store)
    experiment = client.get_experiment_by_name("rnn")
    tiny = client.search_runs([experiment.experiment_id], f"tags.`mlflow.runName` LIKE '{name}@%'")[0]
    with (REPO_ROOT / "plots" / "rnn" / f"{name}.csv").open() as file:
        curve = [(int(r["epoch"]), float(r["perplexity"])) for r in csv.DictReader(file)]
    run = client.create_run(experiment.experiment_id, run_name=f"{name}@committed",
                            tags={k: v for k, v in tiny.data.tags.items() if not k.startswith("mlflow.")})
    client.log_batch(run.info.run_id, metrics=[Metric("perplexity", v, 0, step) for step, v in curve],
                     params=[Param(k, v) for k, v in tiny.data.params.items()])
    client.set_terminated(run.info.run_id)


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
    page.mouse.move(0, 0)  # no hover tooltip over the first run's name in the screenshots
    return page


def _client(store: str):
    import mlflow

    return mlflow.MlflowClient(store)


def _columns(page) -> list[str]:
    """The runs table's column ids, as MLflow names them (metrics.`name`, params.`name`), left to right
    on the screen (the grid's DOM order is not the order it shows)."""
    return page.locator(".ag-header-cell[col-id]").evaluate_all(
        "els => els.sort((a, b) => a.getBoundingClientRect().left - b.getBoundingClientRect().left)"
        ".map(e => e.getAttribute('col-id'))")


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
    # the parallel-coordinates plot draws the changed param against the headline score
    axis_titles = page.locator(".parcoords .axis-title").evaluate_all("els => els.map(e => e.textContent)")
    assert "model.lr" in axis_titles and "oof_log_rmse_without_outliers" in axis_titles, axis_titles


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


# ---- every experiment, clicked into from the experiments list (no share key in the URL)

_GRID = """col => {
  const rows = {};
  for (const r of document.querySelectorAll('.ag-row[row-index]')) {
    const i = Number(r.getAttribute('row-index'));
    const row = rows[i] = rows[i] || {name: '', value: '', group: false};
    const name = r.querySelector('[col-id="attributes.`Run Name`"]');
    if (name && name.innerText.trim()) row.name = name.innerText.trim();
    const cell = r.querySelector(`[col-id="${col}"]`);
    if (cell && cell.innerText.trim()) row.value = cell.innerText.trim();
    if (r.innerText.includes('Group:')) row.group = true;
  }
  return Object.keys(rows).map(Number).sort((a, b) => a - b).map(i => rows[i]);
}"""
_CUT = """cols => cols.flatMap(col => [...document.querySelectorAll(
  `.ag-cell[col-id="${col}"], .ag-header-cell[col-id="${col}"] .ag-header-cell-text`)]
  .filter(e => [e, ...e.querySelectorAll('*')].some(x => x.clientWidth > 2 && x.scrollWidth > x.clientWidth + 1
    && [...x.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())))
  .map(e => col + ': ' + e.innerText.trim()))"""  # a text cut short (an ellipsis), in a header or a cell


def _number(text: str) -> float | None:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def _saved_state(client, experiment_id: str, key: str = "cli-ui") -> dict:
    import json

    tag = client.get_experiment(experiment_id).tags[f"mlflow.sharedViewState.{key}"]
    return json.loads(json.loads(tag)["state"])


def _click_into(browser, ui: str, token: str, name: str):
    """A fresh browser opens the experiments list and clicks `name`, as a person would."""
    page = _open(browser, mlflow_ui.with_token(f"{ui}/#/experiments?{mlflow_ui.ML_WORKFLOW}", token), ready=name)
    page.get_by_role("link", name=name, exact=True).first.click()
    page.locator(".ag-row[row-index]").first.wait_for(timeout=90_000)
    page.wait_for_timeout(1500)
    page.mouse.move(0, 0)
    return page


def test_every_experiment_opens_from_the_list_on_its_headline_best_first(pipeline_store, ui, token, browser,
                                                                         screenshots):
    client = _client(pipeline_store)
    mlflow_ui.ui_url(pipeline_store, ui, "house-prices")  # what `cli.py ui` does first: saves every view
    names = sorted(e.name for e in client.search_experiments() if e.name != "Default")
    assert names == ["house-prices", "regularization", "rnn", "titanic"], names
    for name in names:
        experiment = client.get_experiment_by_name(name)
        state = _saved_state(client, experiment.experiment_id)
        page = _click_into(browser, ui, token, name)
        page.screenshot(path=str(screenshots / f"list-{name}.png"))
        assert "viewStateShareKey" not in page.url and "orderByKey=" in page.url, page.url
        # the Assistant panel stayed shut on this browser's first page (it opens by itself otherwise)
        assert page.get_by_role("button", name="Close").count() == 0, name
        headline = scores.headline(name)[0]
        assert state["orderByKey"] == f"metrics.`{headline}`", (name, state["orderByKey"])
        text = page.inner_text("body")
        assert f"Sort: {headline}" in text, name
        columns = _columns(page)
        assert set(state["selectedColumns"]) <= set(columns), (name, columns)  # scores, params that differ
        shown_metrics = [c for c in columns if c.startswith("metrics.")]
        assert shown_metrics[0] == f"metrics.`{headline}`", (name, shown_metrics)  # the headline first, not A-Z
        assert page.evaluate(_CUT, [mlflow_ui.ui_views.RUN_NAME_COLUMN, *state["selectedColumns"]]) == [], name
        rows = page.evaluate(_GRID, f"metrics.`{headline}`")
        assert not any(":fold" in r["name"] or r["name"].startswith("fit:") for r in rows), (name, rows)
        groups: list[list[float]] = [[]]
        for row in rows:
            if row["group"]:
                groups.append([])
            elif _number(row["value"]) is not None:
                groups[-1].append(_number(row["value"]))
        groups = [g for g in groups if g]
        assert groups, (name, rows)
        best_first = scores.higher_is_better(headline)
        for values in groups:  # sorted in the headline's direction, within each stage's group
            assert values == sorted(values, reverse=best_first), (name, values)
        if name == "regularization":  # its stages are different experiments: one group each
            assert sum(r["group"] for r in rows) == 2 and len(groups) == 2, rows
        page.close()


def test_the_nested_view_keeps_each_folds_under_its_cv_run(pipeline_store, ui, token, browser, screenshots):
    client = _client(pipeline_store)
    experiment = client.get_experiment_by_name("house-prices")
    mlflow_ui.ui_url(pipeline_store, ui, "house-prices")
    url = mlflow_ui.runs_page_url(ui, experiment.experiment_id, ui_views.NESTED_KEY, mode=False)
    page = _open(browser, mlflow_ui.with_token(url, token), ready="cv:elastic_net@")
    page.screenshot(path=str(screenshots / "nested.png"))
    names = [r["name"] for r in page.evaluate(_GRID, "duration") if r["name"]]
    top = [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert len(names) == len(top) and not any(":fold" in n for n in names), names  # folds collapsed
    assert "Sort: Created" in page.inner_text("body")  # MLflow nests children only in this order


def test_the_rnn_chart_view_puts_perplexity_first_on_a_log_axis(pipeline_store, ui, token, browser, screenshots):
    mlflow_ui.ui_url(pipeline_store, ui, "rnn")
    page = _click_into(browser, ui, token, "rnn")
    page.locator("input[name=runs-view-mode][value=CHART]").dispatch_event("click")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .ytick').length > 0 && [...document"
                           ".querySelectorAll('h4')].some(h => h.innerText.trim() === 'perplexity')", timeout=60_000)
    page.wait_for_timeout(3000)  # every chart drawn
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "rnn-charts.png"))
    # the charts left to right: each card's title and its plot's y axis
    cards = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
      .sort((a, b) => a.getBoundingClientRect().left - b.getBoundingClientRect().left)
      .map(g => { let card = g; while (card && !card.querySelector('h4')) card = card.parentElement;
                  return [card ? card.querySelector('h4').innerText.trim() : '', g._fullLayout.yaxis.type,
                          [...g.querySelectorAll('.ytick text')].map(t => t.textContent)]; })""")
    assert cards[0][:2] == ["perplexity", "log"], cards  # the headline first; 469 -> 1.06 on a log axis
    assert {"1", "10"} <= set(cards[0][2]), cards  # decades apart, equally spaced
