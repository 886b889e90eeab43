"""`cli.py ui`: the MLflow UI on the project's store, on loopback, and the page it prints."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from helpers import free_port, get_json, log_project_runs, stop_ui
from helpers import mlflow_client as tracking_client

from pipeline import REPO_ROOT, private, runs_view, ui, ui_views
from pipeline.errors import TrackingError


def _serve(port: int, *options: str) -> tuple[subprocess.Popen, queue.Queue, queue.Queue]:
    """`cli.py ui` in its own session; its stdout and stderr lines arrive on two queues."""
    process = subprocess.Popen([sys.executable, "cli.py", "ui", "--port", str(port), *options], cwd=REPO_ROOT,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out: queue.Queue = queue.Queue()
    err: queue.Queue = queue.Queue()
    for stream, lines in ((process.stdout, out), (process.stderr, err)):
        threading.Thread(target=lambda s=stream, q=lines: [q.put(line) for line in s], daemon=True).start()
    return process, out, err


def _drain(lines: queue.Queue) -> list[str]:
    got = []
    while not lines.empty():
        got.append(lines.get_nowait())
    return got


@pytest.mark.slow
def test_ui_serves_the_project_store_on_loopback_and_prints_the_runs_page_on_its_saved_view_with_its_token():
    log_project_runs()
    port = free_port()
    process, out, err = _serve(port)
    try:
        header, line = out.get(timeout=180), out.get(timeout=30)
        token = ui.saved_token(port)
        assert token and len(token) >= 22 and ui.token_path(port).stat().st_mode & 0o777 == 0o600
        experiment = tracking_client().get_experiment_by_name("house-prices")
        url = (f"http://127.0.0.1:{port}/?token={token}#/experiments/{experiment.experiment_id}/runs"
               "?viewStateShareKey=cli-ui")
        assert header == "MLflow UI (for you only: the link carries this session's token; Ctrl-C stops it):\n"
        assert line == f"{url}\n" and len(header) <= 100 and len(line) <= 100
        with pytest.raises(urllib.error.HTTPError, match="403"):  # the page without the token
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30)
        with urllib.request.urlopen(url.split("#")[0], timeout=30) as page:
            html = page.read().decode()
        # the page starts a browser that never chose a mode in model training, not GenAI
        assert "localStorage.setItem('mlflow.workflowType_v1','\"machine_learning\"')" in html and "<div id=\"root\"" in html
        view = json.loads(tracking_client().get_experiment_by_name("house-prices").tags["mlflow.sharedViewState.cli-ui"])
        state = json.loads(view["state"])
        assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`valid_log_rmse_mean`", True)  # best first
        assert "metrics.`valid_log_rmse_mean`" in state["selectedColumns"]
        listed = get_json(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search", max_results=100,
                          token=token)
        assert "house-prices" in {e["name"] for e in listed["experiments"]}
        assert not ui.port_is_free(port)
        time.sleep(1)
        assert _drain(out) == [] and _drain(err) == []  # uvicorn's start-up and request lines went to its log
        log = ui.log_path(port).read_text()
        assert "Uvicorn running on http://127.0.0.1:" in log and '"GET / HTTP/1.1" 200' in log
        assert '"GET / HTTP/1.1" 403' in log and token not in log  # the token is never logged
        assert ui.log_path(port).parent == private.location() and ui.plugin_path().parent == private.location()
    finally:
        stop_ui(process, port)
    assert ui.port_is_free(port) and ui.saved_token(port) is None  # its token file goes with it


@pytest.mark.slow
def test_ui_verbose_shows_the_servers_log():
    port = free_port()
    process, out, err = _serve(port, "--verbose")
    try:
        deadline, printed = time.monotonic() + 180, ""
        while "?token=" not in printed:
            printed += out.get(timeout=max(0.1, deadline - time.monotonic()))
        health = ui.with_token(f"http://127.0.0.1:{port}/health", ui.saved_token(port))
        urllib.request.urlopen(health, timeout=30).read()
        time.sleep(1)
        shown = printed + "".join(_drain(out) + _drain(err))
        assert "Uvicorn running on http://127.0.0.1:" in shown and '"GET /health HTTP/1.1" 200' in shown
    finally:
        stop_ui(process, port)


def test_a_server_that_fails_to_start_is_one_error_quoting_its_log(monkeypatch, tmp_path):
    monkeypatch.setattr(ui, "server_command", lambda *a, **k: [sys.executable, "-c",
                                                              "import sys; print('boom: bad store'); sys.exit(3)"])
    monkeypatch.setattr(ui, "log_path", lambda port: tmp_path / "server.log")
    with pytest.raises(TrackingError, match=r"exited with code 3 before answering; its log .*server.log:\n  boom"):
        ui.serve_ui(free_port())


def _rows(*runs: tuple[str, dict, dict]) -> list[runs_view.RunRow]:
    return [runs_view.RunRow({"run_id": str(i), "run_name": f"{name}@main", "experiment": "rnn", "stage": "rnn_train",
                              "model": "", "dataset": "timemachine"}, params, metrics)
            for i, (name, params, metrics) in enumerate(runs)]


def test_the_saved_view_shows_the_score_and_what_differs_best_first():
    rows = _rows(("tm-gru", {"model.cell": "gru", "train.lr": "0.01", "seed": "0"}, {"perplexity": 1.05}),
                 ("tm-lstm", {"model.cell": "lstm", "train.lr": "0.01", "seed": "0"}, {"perplexity": 1.07}),
                 ("tm-rnn", {"model.cell": "rnn", "train.lr": "0.005", "seed": "0"},
                  {"perplexity": 1.25, "tokens_per_sec": 9e4}))
    state = ui.view_state(rows)
    assert state["selectedColumns"] == ["metrics.`perplexity`", "params.`model.cell`", "params.`train.lr`"]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`perplexity`", True)  # lowest first

    class Client:
        def __init__(self):
            self.tags = {}

        def set_experiment_tag(self, experiment_id, key, value):
            self.tags[(experiment_id, key)] = value

    client = Client()
    assert ui.save_view(client, "3", state) == "cli-ui"
    saved = json.loads(client.tags[("3", "mlflow.sharedViewState.cli-ui")])
    # the envelope MLflow's UI reads a saved view from: a name, a creation time (ms), the state as a string
    assert isinstance(saved["name"], str) and isinstance(saved["createdAt"], int)
    assert json.loads(saved["state"]) == state


def test_a_competition_ranked_by_accuracy_opens_highest_first():
    rows = [runs_view.RunRow({"run_id": str(i), "run_name": f"cv:lightgbm@{i}", "experiment": "titanic",
                              "stage": "cv", "model": "lightgbm", "dataset": "titanic"},
                             {"model.num_leaves": leaves}, {"oof_accuracy": accuracy, "valid_accuracy_mean": accuracy})
            for i, (leaves, accuracy) in enumerate((("8", 0.83), ("31", 0.81)))]
    state = ui.view_state(rows)
    assert state["selectedColumns"][:2] == ["metrics.`oof_accuracy`", "metrics.`valid_accuracy_mean`"]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`oof_accuracy`", False)  # highest first


def _run(run_id, name, experiment, stage, params, metrics, parent="", **columns) -> runs_view.RunRow:
    return runs_view.RunRow({"run_id": run_id, "run_name": name, "experiment": experiment, "stage": stage,
                             "model": columns.get("model", ""), "dataset": columns.get("dataset", ""),
                             "fold": columns.get("fold", "")}, params, metrics, parent)


def test_the_scores_view_lists_the_runs_that_carry_the_headline_and_shows_their_values_whole():
    """Sorted by a score, MLflow lists child runs flat: the view filters folds and fits out (as
    `cli.py runs` does) and a second view shows the tree, sorted by start time (MLflow nests then)."""
    rows = [_run("p1", "cv:mlp@a1b2c3d", "house-prices", "cv", {"model.lr": "0.003"},
                 {"oof_log_rmse_without_outliers": 0.1174595012345678, "valid_log_rmse_mean": 0.134614}),
            _run("p2", "cv:mlp@a1b2c3d (2)", "house-prices", "cv", {"model.lr": "0.001"},
                 {"oof_log_rmse_without_outliers": 0.11685007, "valid_log_rmse_mean": 0.131848}),
            _run("f1", "cv:mlp:fold1@a1b2c3d", "house-prices", "cv", {"model.lr": "0.003", "n": "1"},
                 {"valid_log_rmse": 0.2}, parent="p1", fold="1"),
            _run("x1", "fit:mlp@a1b2c3d", "house-prices", "fit", {"model.lr": "0.003"}, {"train_log_rmse": 0.05})]
    state = ui_views.view_state(rows)
    assert state["searchFilter"] == "tags.mlflow.parentRunId IS NULL AND tags.stage != 'fit'"
    assert state["selectedColumns"] == ["metrics.`oof_log_rmse_without_outliers`", "metrics.`valid_log_rmse_mean`",
                                        "params.`model.lr`"]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`oof_log_rmse_without_outliers`", True)
    widths = state["columnWidths"]  # a header of 29 characters and a value of 18, both whole at ~7 px each
    assert widths["metrics.`oof_log_rmse_without_outliers`"] >= 7 * 29 and widths["attributes.`Run Name`"] >= 7 * 18
    nested = ui_views.view_state(rows, nested=True)
    assert nested["searchFilter"] == "" and nested["orderByKey"] == "attributes.start_time"
    assert nested["runsExpanded"] == {}  # children collapsed under their parent


def test_regularization_groups_its_stages_and_each_stage_has_its_own_view():
    """Four experiments in one MLflow experiment: a polynomial's test loss and a Fashion-MNIST one
    never share a ranking; the children carry the scores, so they are the rows."""
    rows = []
    for stage, losses in (("reg_polynomial", (0.01, 0.03)), ("reg_dropout", (0.38, 0.39))):
        rows.append(_run(stage, stage.removeprefix("reg_"), "regularization", stage, {"lr": "0.1"}, {}))
        rows += [_run(f"{stage}{i}", f"{stage}/c{i}", "regularization", stage, {"lr": "0.1", "degree": str(i)},
                      {"test_loss": loss, "train_loss": loss / 2}, parent=stage) for i, loss in enumerate(losses)]

    class Client:
        def get_metric_history(self, run_id, key):
            return []

    views = ui_views.experiment_views(Client(), rows)
    default = views["cli-ui"][1]
    assert default["searchFilter"] == "" and default["orderByKey"] == "metrics.`test_loss`"
    assert default["groupBy"] == {"aggregateFunction": "min", "groupByKeys": [{"mode": "tag", "groupByData": "stage"}]}
    assert default["groupsExpanded"] == {"tag.stage.reg_dropout": True, "tag.stage.reg_polynomial": True}
    assert views["cli-ui-reg_dropout"][1]["searchFilter"] == "tags.stage = 'reg_dropout'"
    assert "groupBy" not in views["cli-ui-reg_dropout"][1] and set(views) == {
        "cli-ui", "cli-ui-nested", "cli-ui-reg_dropout", "cli-ui-reg_polynomial"}


def test_a_score_that_spans_decades_gets_a_log_axis_in_the_chart_view():
    rows = _rows(("tm-gru", {"model.cell": "gru"}, {"perplexity": 1.05}), ("tm-rnn", {"model.cell": "rnn"},
                                                                         {"perplexity": 1.25}))
    line, = ui_views.view_state(rows, {"0": [516.6, 238.5, 1.05], "1": [300.0, 1.25]})["compareRunCharts"]
    assert (line["type"], line["metricKey"], line["scaleType"]) == ("LINE", "perplexity", "log")
    flat = ui_views.view_state(rows, {"0": [1.9, 1.05], "1": [1.6, 1.25]})["compareRunCharts"][0]
    assert flat["scaleType"] == "linear"
    assert ui_views.spans_decades([500, 1.0]) and not ui_views.spans_decades([9.0, 1.0])
    assert not ui_views.spans_decades([-1.0, 100.0])  # a log axis cannot show a negative value


def test_the_page_script_seeds_each_experiments_view_unless_the_user_chose_their_own():
    """The script the served page runs, in node against a stand-in for localStorage."""
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run the page script in (tests/test_browser.py runs it in Chromium)")
    view = {"selectedColumns": ["metrics.`perplexity`"], "orderByKey": "metrics.`perplexity`", "orderByAsc": True,
            "searchFilter": ""}
    newer = {**view, "selectedColumns": ["metrics.`perplexity`", "params.`model.cell`"]}
    key = 'MLflowLocalStorage-1.1-ExperimentPage-["3"]-ReactComponentState'
    mine = json.dumps({**view, "orderByKey": "attributes.start_time"})

    def run(views: dict, stored: dict) -> dict:
        js = ("const store=" + json.dumps(stored) + ";globalThis.localStorage={getItem:k=>k in store?store[k]:null,"
              "setItem:(k,v)=>{store[k]=String(v)}};" + ui_views.seed_script(views)
              + ";console.log(JSON.stringify(store))")
        done = subprocess.run([node, "-e", js], capture_output=True, text=True, timeout=30, check=True)
        return json.loads(done.stdout)

    first = run({"3": view}, {})
    assert json.loads(first[key]) == view and first["mlflow.assistant.fab.autoOpenedOnFirstLoad_v1"] == "true"
    assert json.loads(run({"3": newer}, first)[key]) == newer  # a later `cli.py ui` view replaces an untouched one
    assert run({"3": newer}, {**first, key: mine})[key] == mine  # the user's own sort stays
    assert run({"3": view}, {key: mine})[key] == mine  # as does any state the browser had before


def _asgi(app, path: str, query: bytes = b"", headers=(), kind: str = "http") -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": kind, "method": "GET", "path": path, "query_string": query, "headers": list(headers),
                     "server": ("127.0.0.1", 5127)}, receive, send))
    if kind == "websocket":
        return {}, json.dumps(sent).encode()
    start = next(m for m in sent if m["type"] == "http.response.start")
    return ({**dict(start["headers"]), b":status": str(start["status"]).encode()},
            b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


def test_every_request_without_the_sessions_token_gets_403_and_never_reaches_mlflow():
    """The gate in front of MLflow's app (`ui.OwnerOnly`), ASGI calls; real HTTP: tests/test_faults_private.py."""
    seen: list[tuple[str, bytes]] = []

    async def mlflow(scope, receive, send):
        seen.append((scope["path"], scope["query_string"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    token = ui.new_token()
    gate = ui.OwnerOnly(mlflow, token)
    cookie = f"pipeline_ui_5127={token}".encode()
    for path in ("/", "/static-files/main.js", "/ajax-api/2.0/mlflow/experiments/search", "/api/2.0/mlflow/runs/delete",
                 "/api/2.0/mlflow-artifacts/artifacts/0/x/planted.txt", "/health"):
        for query, headers in ((b"", []), (b"token=wrong", []), (b"token=", []),
                               (b"", [(b"cookie", b"pipeline_ui_5127=wrong; pipeline_ui_5000=" + token.encode())]),
                               (b"", [(b"authorization", b"Bearer " + token[:-1].encode())]),
                               (b"", [(b"authorization", b"Basic " + token.encode())])):
            head, body = _asgi(gate, path, query, headers)
            assert head[b":status"] == b"403" and b"answers its own user only" in body, (path, query, headers)
    assert seen == []
    assert b'"code": 1008' in _asgi(gate, "/ws", kind="websocket")[1] and seen == []
    # the token in the query: through, its cookie set, the token gone from what MLflow sees
    head, body = _asgi(gate, "/", b"viewStateShareKey=cli-ui&token=" + token.encode())
    assert head[b":status"] == b"200" and seen == [("/", b"viewStateShareKey=cli-ui")]
    assert head[b"set-cookie"] == cookie + b"; Path=/; HttpOnly; SameSite=Strict"
    # the cookie (what the page's own API calls carry), or a bearer token (MlflowClient's MLFLOW_TRACKING_TOKEN)
    for headers in ([(b"cookie", b"other=1; " + cookie)], [(b"Authorization", b"Bearer " + token.encode())]):
        head, _ = _asgi(gate, "/ajax-api/2.0/mlflow/experiments/search", b"max_results=5", headers)
        assert head[b":status"] == b"200" and b"set-cookie" not in head
    assert seen[1:] == [("/ajax-api/2.0/mlflow/experiments/search", b"max_results=5")] * 2


def test_the_server_refuses_to_start_without_a_token(monkeypatch):
    monkeypatch.delenv(ui.TOKEN_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="PIPELINE_UI_TOKEN is not set"):
        ui.mlflow_app()


def test_the_served_page_starts_in_model_training_and_nothing_else_changes():
    page = b"<!doctype html><html><head><title>MLflow</title></head><body></body></html>"

    async def mlflow(scope, receive, send):  # answers like MLflow's app: index.html for "/", JSON elsewhere
        body, kind = (page, b"text/html; charset=utf-8") if scope["path"] == "/" else (b'{"ok": 1}', b"application/json")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        await send({"type": "http.response.body", "body": body[10:]})

    headers, body = _asgi(ui.ModelTrainingFirst(mlflow), "/")
    assert body.startswith(b"<!doctype html><html><head><script>") and body.endswith(page[page.index(b"<title>"):])
    assert b"if(!localStorage.getItem('mlflow.workflowType_v1'))" in body  # a user's own choice stays
    assert int(headers[b"content-length"]) == len(body)
    headers, body = _asgi(ui.ModelTrainingFirst(mlflow), "/ajax-api/2.0/mlflow/experiments/search")
    assert body == b'{"ok": 1}' and headers[b"content-length"] == b"9"


def test_ui_refuses_a_busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        with pytest.raises(TrackingError, match=f"port {busy} on 127.0.0.1 is in use"):
            ui.serve_ui(busy)
