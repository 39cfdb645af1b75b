"""The numpy cells' backpropagation through time, checked three ways: central finite differences in float64
(no torch), a hand-computed step, and torch autograd on the same weights (torch is in requirements-dev)."""

from __future__ import annotations

import numpy as np
import pytest

from core.contract import STATE_NAMES, gate_index
from core.train import cells, loss

VOCAB, HIDDEN, BATCH, STEPS = 5, 3, 2, 4


def run(arch, params, tokens, targets, state=None):
    cell = cells.make(arch, params["w_hh"].shape[1])
    state = state or cell.zero_state(tokens.shape[0], params["w_hh"].dtype)
    hs, tape, _ = cell.forward(params, tokens, state)
    value, head_grads, dhs = loss.head(params, hs, targets)
    grads, norms = cell.backward(params, tape, dhs)
    return value, {**grads, **head_grads}, norms


def case(seed: int, many_to_one: bool, dtype=np.float64):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (BATCH, STEPS))
    targets = rng.integers(0, VOCAB, BATCH if many_to_one else (BATCH, STEPS))
    return tokens, targets


@pytest.mark.parametrize("many_to_one", [False, True], ids=["many-to-many", "many-to-one"])
@pytest.mark.parametrize("arch", cells.TRAINABLE)
def test_gradients_match_central_finite_differences(arch, many_to_one):
    params = cells.init(arch, VOCAB, HIDDEN, seed=1, dtype=np.float64)
    for name in params:  # weights large enough that the gates saturate unevenly
        params[name] *= 3
    tokens, targets = case(2, many_to_one)
    _, grads, _ = run(arch, params, tokens, targets)
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            keep = value[index]
            value[index] = keep + eps
            up = run(arch, params, tokens, targets)[0]
            value[index] = keep - eps
            down = run(arch, params, tokens, targets)[0]
            value[index] = keep
            numeric[index] = (up - down) / (2 * eps)
        scale = max(np.linalg.norm(numeric), 1e-12)
        assert np.linalg.norm(grads[name] - numeric) / scale < 1e-6, (arch, name)


def test_the_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((4, 6)), rng.integers(0, 6, 4)
    value, grad = loss.cross_entropy(logits.copy(), targets)  # it works in place
    expected = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(4), targets])
    assert value == pytest.approx(expected, rel=1e-12)
    eps, numeric = 1e-6, np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (loss.cross_entropy(up, targets)[0] - loss.cross_entropy(down, targets)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_many_to_one_scores_only_the_last_step():
    params = cells.init("rnn", VOCAB, HIDDEN, seed=3, dtype=np.float64)
    tokens, targets = case(4, many_to_one=True)
    hs, _, _ = cells.make("rnn", HIDDEN).forward(params, tokens, {"h": np.zeros((BATCH, HIDDEN))})
    value, _, dhs = loss.head(params, hs, targets)
    assert value == pytest.approx(loss.cross_entropy(loss.batch_logits(params, hs[-1:])[:, 0], targets)[0])
    assert not dhs[:-1].any() and dhs[-1].any()


def test_an_lstm_step_by_hand():
    """One step of one unit, pre-activations chosen through the registry's gate blocks: i = sigmoid(ln 3) =
    0.75, f = sigmoid(0) = 0.5, g = tanh(atanh 0.6) = 0.6, o = 0.5; from c_0 = 2, c_1 = 0.5 * 2 + 0.75 * 0.6 =
    1.45 and h_1 = 0.5 * tanh(1.45). With input and forget swapped c_1 would be 1.8."""
    params = {k: np.zeros_like(v) for k, v in cells.init("lstm", 2, 1, seed=0, dtype=np.float64).items()}
    for gate, pre in {"input": np.log(3), "forget": 0.0, "candidate": np.arctanh(0.6), "output": 0.0}.items():
        params["w_ih"][gate_index("lstm", gate), 1] = pre
    cell = cells.make("lstm", 1)
    hs, _, state = cell.forward(params, np.array([[1]]), {"h": np.zeros((1, 1)), "c": np.full((1, 1), 2.0)})
    assert state["c"][0, 0] == pytest.approx(1.45)
    assert hs[0, 0, 0] == pytest.approx(0.5 * np.tanh(1.45))


def test_an_rnn_and_a_gru_step_by_hand():
    """RNN: h_1 = tanh(0.5 + 0.2 * 1.0) = tanh(0.7). GRU with r = z = sigmoid(0) = 0.5 and candidate
    pre-activations x_n = 0.3, W_hn h_0 = 0.8: n = tanh(0.3 + 0.5 * 0.8) = tanh(0.7); h_1 = 0.5 n + 0.5 h_0."""
    rnn = {k: np.zeros_like(v) for k, v in cells.init("rnn", 2, 1, seed=0, dtype=np.float64).items()}
    rnn["w_ih"][0, 0], rnn["w_hh"][0, 0] = 0.5, 0.2
    hs, _, _ = cells.make("rnn", 1).forward(rnn, np.array([[0]]), {"h": np.ones((1, 1))})
    assert hs[0, 0, 0] == pytest.approx(np.tanh(0.7))
    gru = {k: np.zeros_like(v) for k, v in cells.init("gru", 2, 1, seed=0, dtype=np.float64).items()}
    gru["w_ih"][gate_index("gru", "candidate"), 0] = 0.3
    gru["w_hh"][gate_index("gru", "candidate"), 0] = 0.8
    hs, _, _ = cells.make("gru", 1).forward(gru, np.array([[0]]), {"h": np.ones((1, 1))})
    assert hs[0, 0, 0] == pytest.approx(0.5 * np.tanh(0.7) + 0.5)


def test_the_gradient_through_time_vanishes_for_an_rnn_with_small_weights():
    """||dL/dh_t|| for a many-to-one loss: with contracting recurrent weights it shrinks going back in time."""
    params = cells.init("rnn", VOCAB, 8, seed=5, dtype=np.float64)
    params["w_hh"] *= 0.3
    tokens = np.random.default_rng(6).integers(0, VOCAB, (4, 30))
    _, _, norms = run("rnn", params, tokens, np.zeros(4, int))
    assert norms.shape == (30,)
    assert norms[0] < norms[-1] / 1e6 and np.all(np.diff(norms) > 0)


def torch_unrolled(arch, params, tokens, targets):
    """The same network in torch, unrolled step by step so that every h_t's gradient can be read."""
    import torch  # not importorskip: CI installs requirements-dev, and a missing torch must fail, not skip

    layer = getattr(torch.nn, f"{arch.upper()}Cell")  # torch.nn.RNNCell, GRUCell, LSTMCell
    vocab, hidden = params["w_ih"].shape[1], params["w_hh"].shape[1]
    cell, head = layer(vocab, hidden), torch.nn.Linear(hidden, vocab)
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(cell, name.replace("w_", "weight_").replace("b_", "bias_")).copy_(torch.from_numpy(params[name]))
        head.weight.copy_(torch.from_numpy(params["w_out"]))
        head.bias.copy_(torch.from_numpy(params["b_out"]))
    x = torch.nn.functional.one_hot(torch.from_numpy(tokens), vocab).float()
    state = tuple(torch.zeros(tokens.shape[0], hidden) for _ in STATE_NAMES[arch])
    hs = []
    for t in range(tokens.shape[1]):
        state = cell(x[:, t], state if len(state) > 1 else state[0])
        state = state if isinstance(state, tuple) else (state,)
        state[0].retain_grad()
        hs.append(state[0])
    target = torch.from_numpy(targets)
    if targets.ndim == 1:
        value = torch.nn.functional.cross_entropy(head(hs[-1]), target)
    else:
        logits = head(torch.stack(hs, 1))
        value = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))
    value.backward()
    grads = {
        "w_ih": cell.weight_ih.grad,
        "w_hh": cell.weight_hh.grad,
        "b_ih": cell.bias_ih.grad,
        "b_hh": cell.bias_hh.grad,
        "w_out": head.weight.grad,
        "b_out": head.bias.grad,
    }
    return float(value.detach()), {k: v.numpy() for k, v in grads.items()}, np.array([float(h.grad.norm()) for h in hs])


@pytest.mark.parametrize("many_to_one", [False, True], ids=["many-to-many", "many-to-one"])
@pytest.mark.parametrize("arch", cells.TRAINABLE)
def test_gradients_match_torch_autograd(arch, many_to_one):
    """float32, a realistic size, every gradient to 1e-4 of its norm, and ||dL/dh_t|| at every t."""
    vocab, hidden, batch, steps = 11, 16, 4, 20
    params = cells.init(arch, vocab, hidden, seed=7)
    rng = np.random.default_rng(8)
    tokens = rng.integers(0, vocab, (batch, steps))
    targets = rng.integers(0, vocab, batch if many_to_one else (batch, steps))
    value, grads, norms = run(arch, params, tokens, targets)
    expected_value, expected, expected_norms = torch_unrolled(arch, params, tokens, targets)
    assert value == pytest.approx(expected_value, rel=1e-5)
    for name, grad in expected.items():
        assert grads[name].dtype == np.float32
        assert np.linalg.norm(grads[name] - grad) <= 1e-4 * np.linalg.norm(grad), (arch, name)
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-4)
