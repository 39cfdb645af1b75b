"""The lookahead's row step (core/step.py): built from each shipped graph, equal to the graph itself, and
refused (the model staying on its own graph) when it is not."""

from __future__ import annotations

import numpy as np
import pytest

from core import sampling, step
from core.errors import InputError, ModelFileError
from core.models import Model, load_models
from core.predict import lookahead, read


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    loaded, problems = load_models(task=None)
    assert not problems
    return loaded


def batch_of_rows(model, state, tokens, k):
    """What the rows are by definition: the model's own graph on R copies of the state."""
    out = model.run(tokens[:, None], {n: np.repeat(s, len(tokens), axis=0) for n, s in state.items()})
    ids, p = sampling.ranked(sampling.distributions(out["logits"][:, 0]), k)
    return out, ids, p


def random_state(model, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal((1, *shape)).astype(np.float32) for n, shape in model.state_shapes.items()}


@pytest.mark.parametrize("mid", ["ff", "rnn", "lstm", "recall-rnn", "recall-lstm"])
def test_every_shipped_model_has_a_row_step_equal_to_its_graph(models, mid):
    model = models[mid]
    assert model.stepper is not None, f"{mid} fell back to a batch in its graph"
    tokens = np.array([3, 1, 4, 1, 5, 9, 2, 6])  # a repeated row too
    state = random_state(model)
    got = step.next_steps(model, state, tokens, 5)
    want, ids, p = batch_of_rows(model, state, tokens, 5)
    for name in ("logits", *(f"{n}_out" for n in model.state_names)):
        assert got[name].shape == want[name].shape
        np.testing.assert_allclose(got[name], want[name], atol=1e-4 * max(1.0, np.abs(want[name]).max()))
    np.testing.assert_array_equal(got["top_ids"], ids)
    np.testing.assert_allclose(got["top_p"], p, atol=1e-5)
    assert got["probs"].dtype == np.float64  # the next key's surprisal is read from it
    np.testing.assert_allclose(got["probs"], sampling.distributions(want["logits"][:, 0]), atol=1e-5)


def test_a_typed_key_the_lookahead_covered_reads_as_a_fresh_read(models):
    model = models["lstm"]
    before = read(model, "the cat sat on the ")
    lookahead(model, before, 5, model.info.vocab.encode("mhcb"))
    after = read(model, "the cat sat on the m", before)  # from the lookahead's row, no model run
    fresh = read(model, "the cat sat on the m")
    np.testing.assert_allclose(after.logits, fresh.logits, atol=1e-4)
    np.testing.assert_allclose(after.state["c"], fresh.state["c"], atol=1e-5)
    np.testing.assert_allclose(after.surprisal_bits()[1:], fresh.surprisal_bits()[1:], atol=1e-3)


def test_a_step_that_disagrees_with_the_graph_is_refused_and_the_model_keeps_its_graph(models, monkeypatch):
    model = models["rnn"]
    real = step.graph_weights

    def swapped(path):  # R transposed: a plausible bug in reading the weights, same shapes
        op, weights = real(path)
        return op, {**weights, "R": weights["R"].transpose(0, 2, 1).copy()}

    monkeypatch.setattr(step, "graph_weights", swapped)
    with pytest.raises(ModelFileError, match="differ"):
        step.probe(model, step.Recurrent(*step.graph_weights(model.info.path), model.state_names))
    assert step.make(model) is None
    monkeypatch.setattr(model, "stepper", None)
    state, tokens = random_state(model, 1), np.arange(10)
    got = step.next_steps(model, state, tokens, 3)
    want, ids, _ = batch_of_rows(model, state, tokens, 3)
    np.testing.assert_array_equal(got["logits"], want["logits"])
    np.testing.assert_array_equal(got["top_ids"], ids)


def test_a_graph_it_does_not_recognise_leaves_the_model_on_its_own_graph(models, monkeypatch):
    def unrecognised(path):
        raise ModelFileError("not embedding, one recurrent node, projection")

    monkeypatch.setattr(step, "graph_weights", unrecognised)
    assert step.make(models["lstm"]) is None
    assert step.make(models["ff"]) is not None  # its table needs no weights


def test_rows_outside_the_vocabulary_are_refused(models):
    model = models["lstm"]
    with pytest.raises(InputError):
        step.next_steps(model, None, np.array([0, len(model.info.vocab)]), 5)
    with pytest.raises(InputError):
        step.next_steps(model, None, np.array([-1]), 5)


def test_the_pinned_onnxruntime_has_the_private_run_the_row_step_calls(models):
    """core/step.py calls the binding's own run (InferenceSession._sess.run), skipping the public run's checks of
    a feed that is always its own. Should an onnxruntime upgrade drop it, the row step would fall back to the
    public run without a word and every keystroke would cost more: this fails first."""
    recurrent = [m.stepper for m in models.values() if isinstance(m.stepper, step.Recurrent)]
    assert recurrent, "no shipped model has a recurrent row step"
    for stepper in recurrent:
        assert stepper.run == stepper.session._sess.run
