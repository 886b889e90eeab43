"""rnn pipeline: training lowers perplexity and repeats, generation, params errors, CLI."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from pipeline import REPO_ROOT
from pipeline.errors import ParamError
from pipeline.params import load_params
from pipeline.rnn.config import TrainConfig, experiment_names, load_experiment
from pipeline.rnn.corpus import Vocab
from pipeline.rnn.generate import generate
from pipeline.rnn.models import ModelSpec, make_model
from pipeline.rnn.train import train_language_model
from pipeline.training import decayed_lr

TEXT = "the time traveller was expounding a recondite matter to us " * 12
CPU = torch.device("cpu")


def _tiny(**changes) -> TrainConfig:
    base = {"hidden": 32, "batch_size": 4, "num_steps": 8, "epochs": 12, "optimizer": "adam", "lr": 0.01,
            "clip": 1.0, "seed": 0}
    return TrainConfig(**{**base, **changes})


def _corpus():
    vocab = Vocab(list(TEXT))
    return vocab, torch.tensor(vocab.to_indices(TEXT))


def _train(cell, impl, cfg, **spec):
    vocab, corpus = _corpus()
    torch.manual_seed(cfg.seed)
    model = make_model(ModelSpec(cell, impl, len(vocab), cfg.hidden, **spec))
    return model, vocab, train_language_model(model, corpus, cfg, CPU, progress=False)


@pytest.mark.parametrize("cell,impl,scheme", [("rnn", "scratch", "sequential"), ("gru", "scratch", "random"),
                                              ("lstm", "scratch", "sequential"), ("gru", "concise", "random"),
                                              ("lstm", "concise", "sequential")])
def test_short_training_lowers_perplexity(cell, impl, scheme):
    _, vocab, history = _train(cell, impl, _tiny(scheme=scheme))
    ppl = history["perplexity"]
    assert len(ppl) == 12 and len(history["tokens_per_sec"]) == 12
    assert ppl[0] > 0.8 * len(vocab) / 2 and ppl[-1] < 0.5 * ppl[0]
    assert all(t > 0 for t in history["tokens_per_sec"])


def test_sgd_with_clipping_lowers_perplexity_too():
    _, _, history = _train("lstm", "concise", _tiny(optimizer="sgd", lr=1.0, epochs=15))
    assert history["perplexity"][-1] < history["perplexity"][0]


def test_same_params_and_seed_same_numbers_on_cpu():
    runs = [_train("gru", "scratch", _tiny(epochs=3))[2]["perplexity"] for _ in range(2)]
    assert runs[0] == runs[1]
    assert _train("gru", "scratch", _tiny(epochs=3, seed=1))[2]["perplexity"] != runs[0]


def test_lr_decay_falls_linearly_over_the_last_epochs():
    assert [decayed_lr(1.0, e, 10, 0.3) for e in range(10)] == pytest.approx([1.0] * 8 + [2 / 3, 1 / 3])
    assert [decayed_lr(0.5, e, 4, 0.0) for e in range(4)] == [0.5] * 4  # 0: constant
    assert [decayed_lr(1.0, e, 4, 1.0) for e in range(4)] == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_lr_decay_changes_only_the_last_epochs_and_repeats():
    constant = _train("gru", "scratch", _tiny(epochs=6))[2]["perplexity"]
    decayed = _train("gru", "scratch", _tiny(epochs=6, lr_decay=0.5))[2]["perplexity"]
    assert decayed[:4] == constant[:4] and decayed[4:] != constant[4:]  # lr < full from epoch 5 on
    assert _train("gru", "scratch", _tiny(epochs=6, lr_decay=0.5))[2]["perplexity"] == decayed


def test_deep_and_bidirectional_models_train():
    for spec in ({"num_layers": 2}, {"bidirectional": True}):
        _, _, history = _train("lstm", "concise", _tiny(epochs=6), **spec)
        assert history["perplexity"][-1] < history["perplexity"][0]


def test_greedy_generation_is_deterministic_and_takes_unknown_characters():
    model, vocab, _ = _train("gru", "concise", _tiny(epochs=30))
    first = generate(model, vocab, "time traveller", 20, CPU)
    assert first == generate(model, vocab, "time traveller", 20, CPU)
    assert first.startswith("time traveller") and len(first) == len("time traveller") + 20
    odd = generate(model, vocab, "Zeitreisender 42 ✓", 10, CPU)  # Z, 4, 2, ✓ are not in the vocabulary
    assert odd.startswith("Zeitreisender 42 ✓") and len(odd) == len("Zeitreisender 42 ✓") + 10
    lowered = generate(model, vocab, "TIME TRAVELLER", 20, CPU, corpus="timemachine")  # normalized like the corpus
    assert lowered[len("TIME TRAVELLER"):] == first[len("time traveller"):]


def test_empty_prefix_is_a_clear_error():
    model, vocab, _ = _train("rnn", "scratch", _tiny(epochs=1))
    with pytest.raises(ParamError, match="prefix must not be empty"):
        generate(model, vocab, "", 10, CPU)


# ---- params: every experiment of params.yaml resolves; bad values name the param

def test_every_experiment_in_params_yaml_resolves():
    params = load_params()
    names = experiment_names(params)
    assert {"tm-rnn-scratch", "tm-gru-scratch", "tm-lstm-scratch", "tm-rnn-concise", "tm-gru-concise",
            "tm-lstm-concise", "tm-lstm-deep", "tm-lstm-bi", "lyrics-gru-concise", "lyrics-lstm-concise"} <= set(names)
    for name in names:
        exp = load_experiment(params, name)
        assert exp.corpus.prefixes and exp.train.epochs > 0
    assert load_experiment(params, "tm-lstm-deep").model.num_layers == 2
    assert load_experiment(params, "tm-lstm-bi").model.bidirectional


def _params(**experiment):
    params = copy.deepcopy(load_params())
    params["rnn"]["experiments"] = {"x": {"corpus": "timemachine", "cell": "gru", **experiment}}
    return params


def test_unknown_cell_is_a_clear_error():
    with pytest.raises(ParamError, match=r"'rnn.experiments.x.cell' must be one of rnn, gru, lstm; got 'lstn'"):
        load_experiment(_params(cell="lstn"), "x")


@pytest.mark.parametrize("experiment,match", [
    ({"corpus": "wells"}, r"'rnn.experiments.x.corpus' must be one of"),
    ({"impl": "scratch", "num_layers": 2}, r"'rnn.experiments.x.num_layers' must be 1 for impl 'scratch'"),
    ({"impl": "scratch", "bidirectional": True}, r"'rnn.experiments.x.bidirectional'"),
    ({"train": {"epochs": 0}}, r"'rnn.experiments.x.train.epochs' must be > 0"),
    ({"train": {"optimiser": "sgd"}}, r"unknown param\(s\) rnn.experiments.x.train.optimiser"),
    ({"train": {"scheme": "shuffled"}}, r"'rnn.experiments.x.train.scheme' must be one of"),
    ({"train": {"lr_decay": 1.5}}, r"'rnn.experiments.x.train.lr_decay' must be in \[0, 1\]"),
    ({"train": {"device": "cuda:first"}}, r"'rnn.experiments.x.train.device' must be auto, cpu or cuda\[:N\]"),
])
def test_bad_experiment_params_name_the_param(experiment, match):
    with pytest.raises(ParamError, match=match):
        load_experiment(_params(**experiment), "x")


def test_empty_prefix_in_params_is_a_clear_error():
    params = _params()
    params["rnn"]["corpora"]["timemachine"]["prefixes"] = ["time traveller", ""]
    with pytest.raises(ParamError, match=r"'rnn.corpora.timemachine.prefixes\[1\]' must not be empty"):
        load_experiment(params, "x")


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(ParamError, match="no experiment 'rnn.experiments.nope'"):
        load_experiment(load_params(), "nope")


def test_num_steps_longer_than_corpus_fails_before_training(tmp_path, mirror):
    from pipeline.datasets import download
    from pipeline.rnn.experiment import run_experiment
    from pipeline.stage import StageOutputs

    download("timemachine", tmp_path / "raw", str(mirror))
    params = _params(train={"num_steps": 20000})
    with pytest.raises(ParamError, match=r"'rnn.experiments.x.train.num_steps' = 20000 is longer than the corpus "
                                         r"'timemachine' \(10000 tokens\)"):
        run_experiment(load_experiment(params, "x"), tmp_path / "raw", StageOutputs("rnn", "x", root=tmp_path))
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("train,named", [({"device": "cuda"}, "rnn.experiments.x.train.device"),
                                         ({}, "rnn.train.device")])
def test_absent_cuda_fails_naming_the_param_before_any_run(tmp_path, monkeypatch, train, named):
    """The stage set-up (pipeline.stage.Stage) names the param the device came from."""
    from pipeline.rnn.experiment import run_experiment
    from pipeline.stage import StageOutputs

    params = _params(train=train)
    params["rnn"]["train"]["device"] = "cuda"
    with pytest.raises(ParamError, match=rf"'{named}' device 'cuda' requested but CUDA is not available"):
        run_experiment(load_experiment(params, "x"), tmp_path / "raw", StageOutputs("rnn", "x", root=tmp_path))
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_cli_reports_bad_input_in_one_line(tmp_path):
    """`cli.py` turns ParamError/DataError into `error: ...` and exit status 2."""
    result = subprocess.run([sys.executable, "cli.py", "rnn", "generate", "--model", str(tmp_path / "none.pt"),
                             "--prefix", "x"], check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "model file not found" in result.stderr
