"""rnn pipeline: corpora, vocabulary and the two minibatch schemes."""

from __future__ import annotations

import itertools

import pytest
import torch

from pipeline.errors import ParamError
from pipeline.rnn import batching
from pipeline.rnn.corpus import UNK, Vocab, load_corpus, normalize_lyrics, normalize_timemachine


def test_vocab_round_trip_and_unk():
    tokens = list("the time machine")
    vocab = Vocab(tokens)
    assert vocab.idx_to_token[0] == UNK and vocab.unk == 0
    assert vocab.to_tokens(vocab.to_indices(tokens)) == tokens
    assert vocab.to_indices(list("tq")) == [vocab.token_to_idx["t"], 0]  # 'q' was never seen
    assert vocab.to_tokens([0]) == [UNK]
    rebuilt = Vocab(idx_to_token=vocab.idx_to_token)  # as loaded from a model file
    assert rebuilt.to_indices(tokens) == vocab.to_indices(tokens)


def test_vocab_min_freq_and_stable_order():
    vocab = Vocab(list("aaabbc"), min_freq=2)
    assert vocab.idx_to_token == [UNK, "a", "b"]
    assert vocab.to_indices(["c"]) == [0]
    assert Vocab(list("ba")).idx_to_token == [UNK, "a", "b"]  # ties broken by token: same corpus, same ids


def test_normalizers():
    assert normalize_timemachine("The Time-Machine, 1895!\nBy H. G.") == "the time machine by h g "
    assert normalize_lyrics("想要\n有直升机\r\n你") == "想要 有直升机 你"


def test_timemachine_has_28_tokens(mirror, tmp_path):
    from pipeline.datasets import download

    download("timemachine", tmp_path, str(mirror))
    corpus = load_corpus("timemachine", tmp_path, max_tokens=10000)
    assert len(corpus.indices) == 10000
    assert len(corpus.vocab) == 28  # 26 letters, space, <unk>


def test_lyrics_read_from_zip(mirror, tmp_path):
    from pipeline.datasets import download

    download("jaychou-lyrics", tmp_path, str(mirror))
    corpus = load_corpus("jaychou-lyrics", tmp_path, max_tokens=10000)
    text = "".join(corpus.vocab.to_tokens(corpus.indices[:6]))
    assert text == "想要有直升机" and "\n" not in corpus.vocab


@pytest.mark.parametrize("scheme", batching.SCHEMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batches_cover_without_overlap_targets_shifted(scheme, seed):
    n, batch_size, num_steps = 1000, 4, 7
    corpus = torch.arange(n)  # the token at position p is p
    epoch = batching.batches(scheme, corpus, batch_size, num_steps, torch.Generator().manual_seed(seed))
    assert epoch and all(x.shape == (batch_size, num_steps) == y.shape for x, y in epoch)
    xs = torch.cat([x for x, _ in epoch])
    ys = torch.cat([y for _, y in epoch])
    assert torch.equal(ys, xs + 1)  # targets are the next tokens
    assert torch.equal(xs, xs[:, :1] + torch.arange(num_steps))  # each row is a window of the text
    covered = xs.flatten()
    assert len(covered.unique()) == len(covered)  # no token twice
    # everything is used except a random offset, less than one batch of leftovers and the stream ends
    assert n - len(covered) < (batch_size + 1) * num_steps + batch_size + 1


def test_sequential_batches_continue_each_other():
    epoch = batching.sequential_batches(torch.arange(1000), 4, 7, torch.Generator().manual_seed(0))
    for (x0, _), (x1, _) in itertools.pairwise(epoch):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row i of batch k+1 continues row i of batch k


def test_random_batches_differ_between_epochs_and_repeat_with_seed():
    def epoch(seed):
        return batching.random_batches(torch.arange(1000), 4, 7, torch.Generator().manual_seed(seed))

    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch(3), epoch(3)))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(epoch(3), epoch(4)))


def test_num_steps_longer_than_corpus_is_a_clear_error():
    with pytest.raises(ParamError, match=r"'rnn.train.num_steps' = 500 is longer than the corpus \(100 tokens\)"):
        batching.batches("sequential", torch.arange(100), 2, 500)
    with pytest.raises(ParamError, match="needs at least"):
        batching.batches("random", torch.arange(100), 32, 35)
    with pytest.raises(ParamError, match="rnn.train.scheme"):
        batching.batches("shuffled", torch.arange(1000), 2, 5)
