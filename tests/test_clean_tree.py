"""Same params, same machine, same bytes: `dvc repro` in two fresh copies writes identical outputs,
metrics and plots carry no wall-clock figure and no float noise below the written precision,
pictures no date or library version (issue 17, docs/reproducibility.md)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zlib

import pytest
import yaml
from helpers import TINY_RNN
from sandbox import copy_repo

from pipeline import REPO_ROOT, dvc_views
from pipeline.files import DIGITS, same_when_written, write_json, write_metrics
from pipeline.plots import new_figure, save_figure, write_rows

# Every kind of output in two stages (~10 s each): metrics, curves and a picture (reg_polynomial),
# metrics, a curve and a model file from an RNN, whose metrics held tokens/s before.
STAGES = ("reg_polynomial", "rnn_train@tm-gru-concise")
TINY = {
    "regularization.polynomial.epochs": 4,
    **TINY_RNN,
    "rnn.train.epochs": 3,
}


def _files(root, folder: str) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / folder).rglob("*")) if p.is_file()}


def _lock_outs(root) -> dict[str, str]:
    """{path: md5} of every out dvc.lock records."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {out["path"]: out.get("md5") for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.mark.slow
@pytest.mark.usefixtures("mirror")
def test_dvc_repro_in_two_fresh_copies_writes_byte_identical_outputs(repo_copy, tmp_path):
    copies = [repo_copy, copy_repo(tmp_path / "second")]
    for copy in copies:
        copy.set_params(**TINY)
        copy.dvc("repro", *STAGES)
    first, second = (copy.path for copy in copies)

    outputs = [{**_files(root, "metrics"), **_files(root, "plots")} for root in (first, second)]
    assert set(outputs[0]) == {"metrics/rnn/tm-gru-concise.json", "plots/rnn/tm-gru-concise.csv",
                               "metrics/regularization/polynomial.json", "plots/regularization/polynomial.csv",
                               "plots/regularization/polynomial.png"}
    differ = sorted(name for name in outputs[0].keys() | outputs[1].keys()
                    if outputs[0].get(name) != outputs[1].get(name))
    assert differ == [], "differ between the two copies: " + ", ".join(differ)

    # dvc.lock: every entry the same (models too); the MLflow run records are not DVC outs, so no run
    # id. (Entries of a lock written from scratch come in the order the stages finished; a clone's
    # committed lock keeps its order.)
    locks = [yaml.safe_load((root / "dvc.lock").read_text()) for root in (first, second)]
    assert locks[0] == locks[1]
    assert "models/rnn/tm-gru-concise.pt" in _lock_outs(first)
    assert (first / "runs/rnn/tm-gru-concise.json").is_file()  # written beside the outputs all the same
    # and a repro of nothing changed leaves the tree as git has it (the copy's outputs committed first)
    copies[0].run("git", "add", "-A")
    copies[0].run("git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "built")
    copies[0].dvc("repro", *STAGES)
    assert copies[0].run("git", "status", "--porcelain").stdout == ""
    metrics = json.loads((first / "metrics/rnn/tm-gru-concise.json").read_text())
    assert set(metrics) == {"perplexity", "epochs", "device"}  # speed is in MLflow only
    assert (first / "plots/rnn/tm-gru-concise.csv").read_text().splitlines()[0] == "epoch,perplexity"


@pytest.mark.slow
@pytest.mark.usefixtures("mirror")
def test_a_stage_back_at_earlier_params_runs_again_instead_of_coming_from_the_run_cache(repo_copy):
    """Every build of a training stage is an MLflow run: DVC's run cache could restore the outputs
    of params seen before without running the stage; `persist: true` on its metrics keeps it off."""
    run_ids = set()
    for epochs in (3, 2, 3):
        repo_copy.set_params(**{"regularization.polynomial.epochs": epochs})
        out = repo_copy.dvc("repro", "reg_polynomial").stdout
        assert "Running stage 'reg_polynomial'" in out and "skipping run" not in out, out
        record = json.loads((repo_copy.path / "runs/regularization/polynomial.json").read_text())
        assert record["run_id"] not in run_ids  # a new MLflow run each time, the third one too
        run_ids.add(record["run_id"])


def test_metrics_are_written_at_the_stated_precision_and_other_json_in_full(tmp_path):
    value = 0.12179448033155056  # house cv.json on one machine; 0.1217944803315295 on another
    write_metrics(tmp_path / "m.json", {"score": value, "n": 3, "device": "cpu", "nested": {"w": [1 / 3, None]}})
    assert json.loads((tmp_path / "m.json").read_text()) == {"score": 0.1217944803, "n": 3, "device": "cpu",
                                                               "nested": {"w": [0.3333333333, None]}}
    one, other = (write_metrics(tmp_path / name, {"score": v}).read_bytes()
                  for name, v in (("one.json", value), ("other.json", 0.1217944803315295)))
    assert one == other == b'{\n  "score": 0.1217944803\n}\n'
    write_json(tmp_path / "weights.json", {"w": value})  # blend weights feed the submission: every bit
    assert json.loads((tmp_path / "weights.json").read_text())["w"] == value
    assert DIGITS == 10


def test_plot_rows_are_written_at_the_stated_precision(tmp_path):
    write_rows(tmp_path / "curve.csv", [{"epoch": 1, "loss": 2 / 3, "acc": 0.5}, {"epoch": 2, "loss": 1e-7 / 3,
                                                                                  "acc": float("nan")}])
    assert (tmp_path / "curve.csv").read_text().splitlines() == ["epoch,loss,acc", "1,0.6666666667,0.5",
                                                                 "2,3.333333333e-08,"]


def _png_text_chunks(data: bytes) -> list[bytes]:
    """The keywords of a PNG's text chunks (tEXt, zTXt, iTXt): where a date or a version would be."""
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert zlib.crc32(kind + body) == int.from_bytes(data[at + 8 + length:at + 12 + length], "big")
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            chunks.append(body.split(b"\0", 1)[0])
        at += 12 + length
    return chunks


def test_a_figure_saved_twice_is_the_same_bytes_without_a_version_or_date(tmp_path):
    pictures = []
    for name in ("a.png", "b.png"):
        fig, ax = new_figure()
        ax.plot([1, 2, 3], [1, 4, 9], label="curve")
        ax.legend()
        pictures.append(save_figure(tmp_path / name, fig).read_bytes())
    assert pictures[0] == pictures[1]
    assert _png_text_chunks(pictures[0]) == []  # matplotlib writes Software=Matplotlib version X unless told


def test_a_change_below_the_written_precision_is_the_same_value():
    assert same_when_written(0.1217944803315295, 0.12179448033155056)
    assert same_when_written(0.1217944803, 0.12179448033155056)  # a file before rounding against one after
    assert not same_when_written(0.1217944803, 0.1217944804)
    assert not same_when_written(1.166, 1.183) and not same_when_written(None, 1.0)
    assert same_when_written("cpu", "cpu") and same_when_written(3, 3.0)


@pytest.mark.slow
def test_metrics_diff_leaves_out_float_noise_and_shows_real_changes(repo_copy):
    root = repo_copy.path
    cv = root / "metrics/house-prices/cv.json"
    cv.parent.mkdir(parents=True)
    cv.write_text(json.dumps({"oof_log_rmse": 0.1217944803315295, "valid_log_rmse_mean": 0.1173815}))
    subprocess.run(["git", "add", "-f", "metrics"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"], cwd=root,
                   check=True)
    write_metrics(cv, {"oof_log_rmse": 0.12179448033155056, "valid_log_rmse_mean": 0.1173815})
    noise = dvc_views.metrics_report("house", diff="HEAD", root=root)
    assert "oof_log_rmse" not in noise and "valid_log_rmse_mean" not in noise  # 2e-14: not a change
    write_metrics(cv, {"oof_log_rmse": 0.12179448033155056, "valid_log_rmse_mean": 0.1174})
    changed = dvc_views.metrics_report("house", diff="HEAD", root=root)
    assert "oof_log_rmse" not in changed and "valid_log_rmse_mean" in changed
    assert "oof_log_rmse" in dvc_views.metrics_report("house", diff="HEAD", root=root, show_all=True)


# ---- PIPELINE_PORTABLE_MATH=1: the same numbers on another x86-64 CPU (benchmarks/cross_cpu.py)

# A few steps of a scratch RNN (ATen's tanh, MKL's matrix products), an nn.GRU and an nn.LSTM (oneDNN
# unless portable) set up by the stage harness; the losses at full precision.
TRAIN = """
import json, torch
from pipeline.stage import Stage
stage = Stage("rnn", "t", seed=0, cpu_threads=1, where="rnn.train", uses_torch=True)
from pipeline.rnn.models import ModelSpec, make_model
losses = []
for cell, impl in (("rnn", "scratch"), ("gru", "concise"), ("lstm", "concise")):  # the stages' sizes
    model = make_model(ModelSpec(cell, impl, vocab_size=28, hidden=256))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(4):
        X = torch.randint(0, 28, (32, 35), generator=torch.Generator().manual_seed(step))
        logits, _ = model(X, model.begin_state(32))
        loss = torch.nn.functional.cross_entropy(logits, X.T.reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
import ctypes, os  # MKL's reproducibility branch, as MKL itself reads it (3: COMPATIBLE), if torch has MKL
mkl = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
branch = mkl.mkl_serv_cbwr_get(1) if hasattr(mkl, "mkl_serv_cbwr_get") else None
print(json.dumps({"losses": losses, "tags": stage.tags(), "aten": torch.backends.cpu.get_cpu_capability(),
                  "mkldnn": torch.backends.mkldnn.enabled, "mkl_cbwr": branch}))
"""
MKL_CBWR_COMPATIBLE = 3  # mkl.h
# Other CPUs, as far as one machine can emulate them: its libraries held to AVX2 (ATen's AVX2 kernels,
# MKL's and oneDNN's AVX2 paths), or to SSE (ATen's kernels without AVX, MKL's SSE4.2, oneDNN's SSE4.1).
OLDER_CPUS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
              "sse": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                      "ONEDNN_MAX_CPU_ISA": "SSE41"}}


def _train(portable: bool, cpu: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in (*OLDER_CPUS["avx2"], "MKL_CBWR", "PIPELINE_PORTABLE_MATH")}
    env.update({**cpu, "PIPELINE_PORTABLE_MATH": "1" if portable else "0"})
    done = subprocess.run([sys.executable, "-c", TRAIN], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_portable_math_gives_the_same_numbers_on_other_cpus():
    """What the switch promises on any x86-64 CPU: the same numbers with the libraries held to AVX2 or
    SSE as on the CPU as it is, because every part of it took effect (ATen's plain kernels, MKL's
    COMPATIBLE branch, oneDNN off). Not asserted: that the default math differs between those; on
    an AMD EPYC the default's short runs agree too (MKL takes its own path there whatever the cap),
    and the switch is simply not needed for them."""
    native = _train(False, {})
    if native["aten"] == "DEFAULT":
        pytest.skip("this CPU has no AVX2: there is no older instruction set to emulate")
    assert native["tags"]["math"] == "native" and native["mkldnn"] and native["mkl_cbwr"] != MKL_CBWR_COMPATIBLE

    portable, *portable_older = (_train(True, cpu) for cpu in ({}, *OLDER_CPUS.values()))
    assert all(p["losses"] == portable["losses"] for p in portable_older)  # bit for bit
    assert portable["tags"]["math"] == "portable" and portable["aten"] == "DEFAULT" and not portable["mkldnn"]
    assert portable["mkl_cbwr"] in (MKL_CBWR_COMPATIBLE, None)  # None: a torch built without MKL


@pytest.mark.slow
def test_portable_math_refuses_to_start_after_torch_chose_its_kernels():
    late = ("import torch; torch.ones(3).sum(); chosen = torch.backends.cpu.get_cpu_capability()\n"
            "from pipeline.runtime import apply_math_mode\n"
            "try:\n    apply_math_mode(); print('applied', chosen)\n"
            "except RuntimeError as exc:\n    print('refused:', exc)")
    env = {**{k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}, "PIPELINE_PORTABLE_MATH": "1"}
    done = subprocess.run([sys.executable, "-c", late], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert done == "applied DEFAULT" or re.fullmatch(  # DEFAULT: a CPU without AVX2, nothing to refuse
        r"refused: PIPELINE_PORTABLE_MATH=1 came too late: torch already chose its AVX\w* kernels in this process", done)


@pytest.mark.slow  # imports torch: ~1.3 s alone
def test_a_bad_portable_math_value_is_a_param_error(monkeypatch):
    from pipeline.errors import ParamError
    from pipeline.stage import Stage

    monkeypatch.setenv("PIPELINE_PORTABLE_MATH", "yes please")
    with pytest.raises(ParamError, match="PIPELINE_PORTABLE_MATH must be 1 or 0; got 'yes please'"):
        Stage("rnn", "t", seed=0, cpu_threads=1, where="rnn.train", uses_torch=True)
