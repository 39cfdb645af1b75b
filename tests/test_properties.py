"""Property tests (Hypothesis) for core: an incremental read equals a fresh one under any edit, every
distribution is finite and sums to one, and whatever the arguments, nothing but the project's own errors
escapes core's public functions."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import recall
from core.errors import UnrolledError
from core.memory import analyse
from core.models import load_models
from core.predict import read, sample, softmax

MODELS, _ = load_models()
RECALL, _ = load_models(task="recall")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
shakespeare = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.;:!?'\nAEIOURT", max_size=80)
anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=3), st.lists(st.integers())
)


@SETTINGS
@given(before=shakespeare, after=shakespeare, model_id=st.sampled_from(sorted(MODELS)))
def test_an_incremental_read_equals_a_fresh_one_after_any_edit(before, after, model_id):
    model = MODELS[model_id]
    incremental = read(model, after, previous=read(model, before))
    fresh = read(model, after)
    np.testing.assert_allclose(incremental.logits, fresh.logits, atol=2e-4)
    # the surprisal carried over from `before` is the text's own, not the old text's
    np.testing.assert_allclose(incremental.surprisal_bits(), fresh.surprisal_bits(), atol=1e-3, equal_nan=True)
    for name in model.state_names:
        np.testing.assert_allclose(incremental.state[name], fresh.state[name], atol=2e-5)


@SETTINGS
@given(typed=text, model_id=st.sampled_from(sorted(MODELS)), temperature=st.floats(0.01, 100))
def test_every_distribution_is_finite_and_sums_to_one(typed, model_id, temperature):
    reading = read(MODELS[model_id], typed)
    if not reading.text:
        return
    probs = reading.next_probs(temperature)
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)
    bits = reading.surprisal_bits()[1:]
    assert np.isfinite(bits).all() and (bits >= 0).all()


@SETTINGS
@given(temperature=anything, seed=anything, length=anything, prompt=st.one_of(text, anything))
def test_sample_refuses_bad_arguments_with_the_project_s_own_error(temperature, seed, length, prompt):
    try:
        written = sample(MODELS["rnn"], prompt, length, temperature, seed=seed)
    except UnrolledError:
        return
    assert isinstance(written, str) and len(written) == length and "<unk>" not in written


@SETTINGS
@given(probes=anything, seed=anything, typed=st.one_of(text, anything))
def test_analyse_refuses_bad_arguments_with_the_project_s_own_error(probes, seed, typed):
    try:
        memory = analyse(MODELS["rnn"], typed, probes=probes, seed=seed)
    except UnrolledError:
        return
    assert np.isfinite(memory.influence).all()


@SETTINGS
@given(key=st.one_of(st.text(max_size=3), anything), k=anything, seed=anything)
def test_recall_refuses_bad_arguments_with_the_project_s_own_error(key, k, seed):
    model = next(iter(RECALL.values()))
    try:
        answer = recall.ask(model, key, k, seed)
    except UnrolledError:
        return
    assert answer.answer in recall.spec(model)["keys"] and len(key) == 1


@pytest.mark.parametrize("temperature", [5e-324, 0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_softmax_refuses_temperatures_that_would_give_nan(temperature):
    with pytest.raises(UnrolledError):
        softmax(np.array([1.0, 2.0, 3.0]), temperature)


def test_a_too_long_generation_is_refused_not_run_for_hours():
    with pytest.raises(UnrolledError, match="length"):
        sample(MODELS["lstm"], "KING.", 10**9)
