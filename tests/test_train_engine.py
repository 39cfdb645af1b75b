"""The training engine around the cells: Adam, clipping, the two tasks, one step's report, and bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.train import cells, optim, tasks
from core.train.engine import Run, Settings


def test_adam_matches_torch_on_the_same_gradients():
    import torch  # requirements-dev installs it; a missing torch fails here rather than skipping

    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((5, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}
    theirs = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    ours, reference = optim.Adam(params, lr=0.01), torch.optim.Adam(theirs.values(), lr=0.01)
    for _ in range(25):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        ours.step(params, grads)
        for k, p in theirs.items():
            p.grad = torch.from_numpy(grads[k].copy())
        reference.step()
    for k, v in params.items():
        np.testing.assert_allclose(v, theirs[k].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_clipping_scales_to_the_threshold_and_reports_the_norm_before():
    grads = {"a": np.array([3.0, 0.0], np.float32), "b": np.array([[4.0]], np.float32)}  # global norm 5
    assert optim.clip(grads, 1.0) == pytest.approx((5.0, 1.0), rel=1e-6)
    assert optim.global_norm(grads) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0], rtol=1e-6)
    small = {"a": np.array([0.3], np.float32)}
    assert optim.clip(small, 1.0) == pytest.approx((0.3, 0.3))  # below the threshold: untouched
    assert optim.clip({"a": np.array([30.0])}, None) == (30.0, 30.0)  # clipping off


def test_a_recall_batch_is_a_pure_function_of_the_step_and_the_seed():
    task = tasks.Recall(k=7, batch=16, seed=3)
    tokens, keys = task.batch_at(5)
    again, keys_again = task.batch_at(5)
    assert np.array_equal(tokens, again) and np.array_equal(keys, keys_again)
    assert not np.array_equal(tokens, task.batch_at(6)[0])
    assert tokens.shape == (16, 9)
    vocab = task.vocab.tokens
    assert all(vocab[i] in tasks.KEYS for i in tokens[:, 0]) and np.array_equal(tokens[:, 0], keys)
    assert all(vocab[i] in tasks.DISTRACTORS for i in tokens[:, 1:-1].ravel())
    assert {vocab[i] for i in tokens[:, -1]} == {tasks.QUERY}


def test_the_curriculum_raises_the_lag_to_k():
    task = tasks.Recall(k=40, curriculum=100)
    lags = [task.lag(step) for step in range(0, 140, 10)]
    assert lags[0] < 5 and lags == sorted(lags) and lags[-1] == 40
    assert tasks.Recall(k=40).lag(0) == 40


def test_a_text_task_holds_out_its_tail_and_reads_rare_characters_as_unknown():
    common = "the quick brown fox jumps over the lazy dog. " * 20
    rare = "".join(chr(0x4E00 + i) for i in range(150))  # 150 characters seen once each
    task = tasks.Text.from_text(common + rare, seq_len=20, seed=1)
    assert len(task.vocab) <= tasks.MAX_VOCAB + 1
    assert len(task.unknown) == len(set(common + rare)) - tasks.MAX_VOCAB
    assert any("read as the unknown token" in str(note) for note in task.notes)
    assert len(task.val) == int(len(common + rare) * tasks.HELD_OUT)
    x, y = task.batch_at(4)
    assert x.shape == y.shape == (32, 20) and np.array_equal(x[:, 1:], y[:, :-1])
    assert np.array_equal(task.batch_at(4)[0], x)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "too short"),
        ("a", "too short"),
        ("ab\x00cd" * 100, "binary"),
        (bytes([0xFF, 0xFE, 0x00]) * 100, "not UTF-8"),
        ("\x07" * 300, "binary"),
    ],
)
def test_bad_text_gets_a_clear_message(text, message):
    with pytest.raises(InputError, match=message):
        tasks.Text.from_text(text)


def test_a_long_text_is_cut_and_says_so_and_control_characters_go():
    text = ("To be, or not to be, that is the question.\x07\n" * 3000)[: tasks.MAX_TEXT + 5000]
    task = tasks.Text.from_text(text)
    assert any("cut to its first 100,000" in str(note) for note in task.notes)
    assert any("control characters removed" in str(note) for note in task.notes)
    assert "\x07" not in task.vocab.tokens


def test_the_excerpt_ships_and_trains():
    task = tasks.Text.shakespeare()
    assert 25_000 < len(task.train) + len(task.val) <= 30_000
    assert not task.unknown


def test_a_step_reports_loss_norms_through_time_and_milliseconds_and_the_loss_falls():
    run = Run(Settings(task="text", cells=("rnn",), hidden=32, seq_len=20, lr=1e-2, seed=0))
    first = run.step(0)["rnn"]
    assert first.dh_norms.shape == (20,) and np.all(first.dh_norms > 0) and first.ms > 0
    assert first.clipped <= 1.0 + 1e-6 and first.norm >= first.clipped
    losses = [run.step(n)["rnn"].loss for n in range(1, 80)]
    assert np.mean(losses[-10:]) < first.loss - 0.5


def test_a_nan_stops_that_cell_only():
    run = Run(Settings(task="recall", k=5, hidden=8))
    run.nets["gru"].params["w_out"][0, 0] = np.nan
    reports = run.step(0)
    assert set(reports) == {"rnn", "lstm"}
    assert run.stopped == {"gru": "gru exploded at step 0: its loss became nan"}
    assert set(run.step(1)) == {"rnn", "lstm"}


def test_an_overflow_to_inf_stops_that_cell_with_a_message():
    run = Run(Settings(task="text", cells=("rnn", "lstm"), hidden=8, clip=None))
    run.nets["rnn"].params["w_out"] *= np.float32(1e38)  # logits overflow to inf
    run.step(0)
    assert list(run.stopped) == ["rnn"] and "rnn exploded at step 0" in run.stopped["rnn"]
    assert run.live == ["lstm"]


@pytest.mark.parametrize(
    "change",
    [
        {"hidden": 1},
        {"hidden": 512, "cells": ("lstm",), "batch": 2},
        {"lr": 0.0},
        {"lr": 10.0},
        {"task": "recall", "k": 1},
        {"task": "recall", "k": 500, "batch": 2},
        {"seq_len": 1},
        {"seq_len": 500, "batch": 2, "cells": ("gru",)},
    ],
    ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()),
)
def test_every_setting_at_its_extremes_trains_a_step(change):
    settings = Settings(**{"task": "text", **change})
    run = Run(settings)
    for n in range(2):
        run.step(n)
    assert set(run.nets) == set(settings.cells)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden": 0}, "hidden size"),
        ({"hidden": 513}, "hidden size"),
        ({"lr": -1.0}, "learning rate"),
        ({"lr": 11.0}, "learning rate"),
        ({"task": "recall", "k": 501}, "k"),
        ({"task": "recall", "k": 0}, "k"),
        ({"seq_len": 501}, "sequence length"),
        ({"cells": ()}, "cells"),
        ({"cells": ("ff",)}, "cells"),
        ({"cells": ("rnn", "rnn")}, "cells"),
        ({"task": "translation"}, "task"),
    ],
)
def test_settings_out_of_range_get_a_clear_message(change, message):
    with pytest.raises(InputError, match=message):
        Run(Settings(**{"task": "text", **change}))


def test_the_lstm_starts_with_its_forget_gate_open():
    params = cells.init("lstm", 5, 4, seed=0)
    forget = cells.gate_slices("lstm", 4)["forget"]
    assert params["b_ih"][forget].min() > cells.FORGET_BIAS - 1


def test_the_training_benchmark_runs_and_writes_its_figures(tmp_path):
    """bench.train --quick: every part of the benchmark briefly, so that it cannot rot between runs."""
    import json
    import subprocess
    import sys

    out = tmp_path / "train.json"
    command = [sys.executable, "-m", "bench.train", "--quick", "--json", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    keys = {"steps_per_s", "torch_steps_per_s", "ms_per_step", "recall_k20", "text_bits_per_char_20s"}
    assert set(figures) == keys | {"text_kneser_ney_bits_per_char"}
    # the yardstick is counted, not trained: the same in --quick; below a bigram's ~3.3 bits, above zero
    assert 2.0 < figures["text_kneser_ney_bits_per_char"] < 3.0
    for key in ("steps_per_s", "torch_steps_per_s", "ms_per_step", "text_bits_per_char_20s"):
        assert set(figures[key]) == set(cells.TRAINABLE), key
    assert all(v > 0 for v in figures["steps_per_s"].values())
    assert set(figures["ms_per_step"]["lstm"]) == {"25", "50", "100", "200"}
    assert set(figures["recall_k20"]["lstm"]) == {"accuracy", "grad_ratio"}
