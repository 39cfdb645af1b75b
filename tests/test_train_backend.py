"""Trained models run through the same predict path as the shipped ones, and the registry that holds them."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.predict import lookahead, read, sample
from core.train import backend, cells
from core.train.engine import Run, Settings


@pytest.fixture(scope="module")
def trained():
    run = Run(Settings(task="text", cells=cells.TRAINABLE, hidden=32, seq_len=25, lr=1e-2))
    for n in range(60):
        run.step(n)
    return {a: backend.TrainedModel(f"yours-{a}", run.nets[a].weights(), steps=60) for a in run.nets}, run


def test_a_trained_model_reads_as_its_net_predicts(trained):
    models, run = trained
    text = "BRUTUS.\nWhat watchful cares"
    for arch, model in models.items():
        reading = read(model, text)
        ids = run.task.vocab.encode(text)
        expected, _ = run.nets[arch].logits(ids[None])
        np.testing.assert_allclose(reading.logits, expected[0], rtol=1e-4, atol=1e-5)


def test_an_incremental_read_equals_a_fresh_one(trained):
    models, _ = trained
    for model in models.values():
        before = read(model, "Friends, Romans")
        grown = read(model, "Friends, Romans, countrymen", before)
        fresh = read(model, "Friends, Romans, countrymen")
        np.testing.assert_allclose(grown.logits, fresh.logits, rtol=1e-4, atol=1e-5)


def test_lookahead_and_sampling_work_on_a_trained_model(trained):
    models, _ = trained
    model = models["lstm"]
    reading = read(model, "CASSIUS")
    ids, probs = lookahead(model, reading, 5, np.arange(16))
    assert ids.shape == probs.shape == (16, 5) and np.all(np.diff(probs, axis=1) <= 0)
    after = read(model, "CASSIUS" + model.info.vocab.tokens[3])  # the lookahead row for token 3, read for real
    np.testing.assert_allclose(probs[3, 0], np.exp(after.logits[-1]).max() / np.exp(after.logits[-1]).sum(), rtol=1e-4)
    written = sample(model, "CASSIUS", 40, seed=1)
    assert len(written) == 40 and "<unk>" not in written


def test_the_registry_is_bounded_and_forgets_idle_sessions(trained):
    models, _ = trained
    registry = backend.Registry(max_sessions=2, idle=0.3)
    held = {s: registry.put(s, models) for s in "ab"}  # what each session keeps in its state
    registry.get("a")  # a is now the most recently used
    held["c"] = registry.put("c", models)
    assert registry.get("b") == {} and set(registry.get("a")) == set(models) and registry.get("c")
    time.sleep(0.4)
    assert registry.get("a") == {} and registry.get("c") == {}


def test_trained_models_go_when_their_session_does(trained):
    import gc

    models, _ = trained
    registry = backend.Registry()
    session_state = {"trained_models": registry.put("t", models)}
    assert set(registry.get("t")) == set(models)
    session_state.clear()  # Streamlit drops a session's state some time after the session ends
    gc.collect()
    assert registry.get("t") == {} and registry.sessions == {}
    with pytest.raises(Exception, match="at most 3"):
        registry.put("d", {**models, "extra": models["rnn"]})
