"""The runtime on the shipped models: contract, encoding, reading, sampling, and broken files."""

import json
import shutil

import numpy as np
import onnx
import pytest

from core.contract import read_manifest
from core.errors import InputError, ManifestError, ModelFileError
from core.models import SHIPPED_DIR, load_models
from core.predict import CHECKPOINT_EVERY, lookahead, read, sample, softmax, top_k
from core.text import MAX_CHARS, Vocab, cap, normalize, visible


@pytest.fixture(scope="module")
def models():
    loaded, problems = load_models()
    assert not problems
    return loaded


# -----------------------------------------------------------------------------
# the shipped files keep the contract


def test_manifest_entries_carry_the_contract_fields():
    entries = json.loads((SHIPPED_DIR / "manifest.json").read_text())["models"]
    assert {e["arch"] for e in entries if e["task"] == "text"} >= {"ff", "rnn", "lstm"}
    for e in entries:
        for key in (
            "id",
            "arch",
            "task",
            "file",
            "sha256",
            "vocab",
            "unk_id",
            "params",
            "hidden_size",
            "corpus",
            "metrics",
            "training",
        ):
            assert key in e, (e["id"], key)
        assert e["vocab"][e["unk_id"]] == "<unk>"
        assert {"val_nats_per_char", "test_nats_per_char"} <= set(e["metrics"])
        assert {"steps", "seconds", "seed", "clip_norm", "machine"} <= set(e["training"])
        assert {"sha256", "val_plays", "test_plays"} <= set(e["corpus"])


def test_shipped_files_pass_the_onnx_checker_and_fit_in_20_mb():
    infos, problems = read_manifest(SHIPPED_DIR)
    assert not problems
    for info in infos:
        graph = onnx.load(info.path)
        onnx.checker.check_model(graph, full_check=True)
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.graph.initializer)
        inputs = {i.name: i.type.tensor_type.elem_type for i in graph.graph.input}
        assert inputs.pop("tokens") == onnx.TensorProto.INT64
        assert all(name.endswith("_in") and t == onnx.TensorProto.FLOAT for name, t in inputs.items())
        outputs = {o.name for o in graph.graph.output}
        assert "logits" in outputs and {n.replace("_in", "_out") for n in inputs} <= outputs
    assert sum(info.path.stat().st_size for info in infos) <= 20 * 2**20


def test_held_out_loss_orders_lstm_before_rnn_before_ff():
    metric = {i.arch: i.test_nats_per_char for i in read_manifest(SHIPPED_DIR)[0] if i.task == "text"}
    assert metric["lstm"] < metric["rnn"] < metric["ff"]
    assert metric["lstm"] <= 1.55


# -----------------------------------------------------------------------------
# text


def test_normalisation_and_unknown_characters():
    vocab = Vocab(["<unk>", "a", "b", "\n"], unk_id=0)
    assert normalize("a\r\nb\rc") == "a\nb\nc"
    assert normalize("e\u0301") == "\u00e9"  # NFC
    assert normalize("x\ud800y") == "x\ufffdy"  # a lone surrogate could not travel back to the browser
    ids = vocab.encode("ab😀中\x00\r\n")
    assert ids.tolist() == [1, 2, 0, 0, 0, 3] and ids.dtype == np.int64


def test_cap_cuts_long_text_and_says_so():
    assert cap("x" * (MAX_CHARS + 5)) == ("x" * MAX_CHARS, True)
    assert cap("short") == ("short", False)


def test_visible_shows_whitespace_and_control_characters():
    assert [visible(c) for c in " \n\t\x07a"] == ["␣", "⏎", "⇥", "U+0007", "a"]


# -----------------------------------------------------------------------------
# reading and predicting


def test_reading_carries_state_exactly_like_one_pass(models):
    for model in models.values():
        whole = read(model, "To be, or not to be")
        grown = read(model, "To be, or not to be", previous=read(model, "To be, or"))
        np.testing.assert_allclose(grown.logits, whole.logits, atol=1e-4)
        for name in model.state_names:
            np.testing.assert_allclose(grown.state[name], whole.state[name], atol=1e-5)


@pytest.mark.parametrize("edit", ["x" * 80, "x" * 70, "x" * 40 + "y" + "x" * 39, "y" + "x" * 79])
def test_backspaces_and_edits_reuse_checkpoints_and_match_a_fresh_read(models, edit):
    model = models["lstm"]
    previous = read(model, "x" * 80)
    assert set(previous.checkpoints) == {32, 64, 80}
    edited = read(model, edit, previous=previous)
    np.testing.assert_allclose(edited.logits, read(model, edit).logits, atol=1e-4)
    np.testing.assert_allclose(edited.state["c"], read(model, edit).state["c"], atol=1e-5)


def test_a_changed_prefix_is_read_afresh(models):
    model = models["lstm"]
    edited = read(model, "neuron", previous=read(model, "newt"))
    np.testing.assert_allclose(edited.logits, read(model, "neuron").logits, atol=1e-5)


def steps_run(model, monkeypatch) -> list[int]:
    """Records how many characters each call of model.run reads."""
    calls, run = [], model.run
    monkeypatch.setattr(model, "run", lambda tokens, state=None: calls.append(tokens.shape[1]) or run(tokens, state))
    return calls


def rows_stepped(model, monkeypatch) -> list[int]:
    """Records how many rows each call of the model's row step (core/step.py) runs: one key reads as one row."""
    rows, stepper = [], model.stepper
    if stepper is not None:
        monkeypatch.setattr(model, "stepper", lambda s, tokens, k: rows.append(len(tokens)) or stepper(s, tokens, k))
    return rows


def test_a_key_typed_at_the_end_runs_one_step_not_a_re_read(models, monkeypatch):
    for model in models.values():
        previous = read(model, "To be, or not to be, that is the question")
        calls = steps_run(model, monkeypatch)
        rows = rows_stepped(model, monkeypatch)
        after = read(model, "To be, or not to be, that is the question:", previous=previous)
        assert calls + rows == [1], f"{model.id} read {calls} characters and {rows} rows for one key"
        fresh = read(model, "To be, or not to be, that is the question:")
        np.testing.assert_allclose(after.logits, fresh.logits, atol=1e-4)
        monkeypatch.undo()


def test_a_backspace_re_reads_at_most_from_the_last_checkpoint(models, monkeypatch):
    model = models["lstm"]
    previous = read(model, "x" * 75)
    calls = steps_run(model, monkeypatch)
    read(model, "x" * 74, previous=previous)
    assert sum(calls) == 74 - 64


def test_typing_keeps_one_checkpoint_per_32_characters_not_one_per_key(models):
    model, reading, text = models["rnn"], None, ""
    for ch in "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer" * 3:
        text += ch
        reading = read(model, text, previous=reading)
    assert len(reading.checkpoints) <= len(text) // CHECKPOINT_EVERY + 2


def test_lookahead_gives_the_top_guesses_after_every_possible_next_character(models):
    for model in models.values():
        reading = read(model, "To be, or not to")
        ids, probs = lookahead(model, reading, 5)
        assert ids.shape == probs.shape == (len(model.info.vocab), 5)
        for ch in " bxQ\n":
            v = model.info.vocab.index[ch]
            fresh = top_k(read(model, "To be, or not to" + ch).next_probs(), 5)
            assert ids[v].tolist() == [i for i, _ in fresh]
            np.testing.assert_allclose(probs[v], [p for _, p in fresh], atol=1e-5)


def test_lookahead_over_chosen_rows_equals_those_rows_of_the_full_lookahead(models):
    for model in models.values():
        reading = read(model, "To be, or not to")
        full_ids, full_p = lookahead(model, reading, 5)
        rows = np.array([model.info.vocab.index[ch] for ch in "xb \n"])
        ids, probs = lookahead(model, reading, 5, rows)
        assert ids.tolist() == full_ids[rows].tolist()
        np.testing.assert_allclose(probs, full_p[rows], atol=1e-6)
        for bad in [[], [-1], [len(model.info.vocab)], [[1, 2]]]:
            with pytest.raises(InputError):
                lookahead(model, reading, 5, np.array(bad, dtype=np.int64))


def test_feed_forward_forgets_and_recurrent_models_remember(models):
    """The article's point, measured: only the last character reaches the feed-forward net."""
    for model in models.values():
        a, b = read(model, "neur").next_probs(), read(model, "the r").next_probs()
        if model.info.arch == "ff":
            np.testing.assert_allclose(a, b, atol=1e-6)
        else:
            assert np.abs(a - b).sum() > 0.1


def test_surprisal_is_minus_log2_of_what_the_model_gave_each_character(models):
    model = models["rnn"]
    reading = read(model, "the king")
    bits = reading.surprisal_bits()
    assert np.isnan(bits[0]) and (bits[1:] > 0).all()
    p = softmax(reading.logits[3])[model.info.vocab.encode("k")[0]]  # "k" follows "the "
    assert bits[4] == pytest.approx(-np.log2(p))


def test_top_k_is_sorted_and_bounded():
    probs = softmax(np.array([0.1, 3.0, -1.0, 2.0, 0.5]))
    best = top_k(probs, 3)
    assert [i for i, _ in best] == [1, 3, 4]
    assert all(p1 >= p2 for (_, p1), (_, p2) in zip(best, best[1:], strict=False))
    assert len(top_k(probs, 99)) == 5


def test_sampling_never_writes_the_unknown_token_even_when_it_is_the_favourite(models, monkeypatch):
    model = models["rnn"]
    run, unk = model.run, model.info.vocab.unk_id

    def unk_first(tokens, state=None):
        out = run(tokens, state)
        out["logits"][..., unk] += 50.0  # the unknown token would win every draw
        return out

    monkeypatch.setattr(model, "run", unk_first)
    written = sample(model, "KING.\n", 60, temperature=1.0, seed=3)
    assert len(written) == 60 and "<unk>" not in written


def test_sampling_is_seeded_and_never_writes_the_unknown_token(models):
    model = models["lstm"]
    one = sample(model, "ROMEO.\n", 80, temperature=1.0, seed=7)
    assert one == sample(model, "ROMEO.\n", 80, temperature=1.0, seed=7)
    assert one != sample(model, "ROMEO.\n", 80, temperature=1.0, seed=8)
    assert len(one) == 80 and "<unk>" not in one
    assert len(sample(model, "", 10, top=3, seed=1)) == 10


def test_odd_input_is_scored_not_refused(models):
    for model in models.values():
        reading = read(model, "😀中\x00<b>*x*</b>")
        assert np.isfinite(reading.logits).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.run(np.array([[1.5]])), "int64"),
        (lambda m: m.run(np.array([1, 2])), "int64"),
        (lambda m: m.run(np.array([[-1]])), "ids must lie"),
        (lambda m: m.run(np.array([[10_000]])), "ids must lie"),
        (lambda m: softmax(np.zeros(3), temperature=0), "temperature"),
        (lambda m: read(m, "").next_probs(), "empty"),
        (lambda m: read(m, 42), "string"),
    ],
)
def test_bad_input_raises_the_runtime_s_own_error(models, call, message):
    with pytest.raises(InputError, match=message):
        call(models["rnn"])


# -----------------------------------------------------------------------------
# broken model files switch one model off, not the others


@pytest.fixture
def copied(tmp_path):
    shutil.copytree(SHIPPED_DIR, tmp_path / "models")
    return tmp_path / "models"


def test_a_missing_file_disables_only_that_model(copied):
    (copied / "rnn.onnx").unlink()
    models, problems = load_models(copied)
    assert "missing" in problems["rnn"] and {"ff", "lstm"} <= set(models)


def test_a_corrupt_file_fails_its_hash(copied):
    data = bytearray((copied / "lstm.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copied / "lstm.onnx").write_bytes(bytes(data))
    models, problems = load_models(copied)
    assert "sha256" in problems["lstm"] and "ff" in models


def test_a_garbled_file_with_a_matching_hash_is_refused_cleanly(copied):
    from core.contract import sha256_file
    from core.models import Model

    (copied / "ff.onnx").write_bytes(b"not an onnx graph")
    manifest = json.loads((copied / "manifest.json").read_text())
    for entry in manifest["models"]:
        if entry["id"] == "ff":
            entry["sha256"] = sha256_file(copied / "ff.onnx")
    (copied / "manifest.json").write_text(json.dumps(manifest))
    info = next(i for i in read_manifest(copied)[0] if i.id == "ff")
    with pytest.raises(ModelFileError, match="could not be loaded"):
        Model(info)


@pytest.mark.parametrize("content", ["", "{not json", '{"models": 3}', "[]"])
def test_a_bad_manifest_raises_a_manifest_error(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError):
        read_manifest(tmp_path)


def test_a_bad_entry_is_a_problem_of_that_entry_alone(tmp_path):
    (tmp_path / "manifest.json").write_text('{"models": [{"id": "x"}, "not an entry"]}')
    entries, problems = read_manifest(tmp_path)
    assert entries == [] and set(problems) == {"x", "entry 1"} and "arch" in problems["x"]


# -----------------------------------------------------------------------------
# memory lab: analysis cells and recall models


def test_memory_analysis_of_every_shipped_model(models):
    from core.memory import analyse

    text = "KING.\n[Aside.] The key was A; remember it."
    for model in models.values():
        memory = analyse(model, text)
        assert memory.influence.shape == (len(text),) and (memory.influence >= 0).all()
        assert memory.gradient_norms[0] == 1.0
        if model.info.arch == "ff":
            assert memory.horizon == 0 and (memory.influence[:-1] == 0).all()
            assert np.isnan(memory.gradient_norms[1:]).all()
        else:
            assert memory.influence[:-1].sum() > 0 and memory.horizon > 0
            assert np.isfinite(memory.gradient_norms).all()
            gates = memory.trace.gates
            if model.info.arch == "lstm":
                assert gates.shape[1] == 4 and (gates[:, [0, 1, 3]] >= 0).all() and (gates[:, [0, 1, 3]] <= 1).all()


def test_memory_horizon_is_where_90_percent_of_influence_lies():
    from core.memory import memory_horizon

    assert memory_horizon(np.array([0.0, 0.0, 0.0, 1.0])) == 0
    assert memory_horizon(np.array([0.05, 0.05, 0.4, 0.5])) == 1
    assert memory_horizon(np.array([0.5, 0.0, 0.0, 0.5])) == 3
    assert memory_horizon(np.zeros(3)) == 0


@pytest.fixture(scope="module")
def recall_models():
    loaded, problems = load_models(task="recall")
    assert not problems and {m.info.arch for m in loaded.values()} >= {"rnn", "lstm"}
    return loaded


def test_recall_sequences_follow_the_task_spec(recall_models):
    from core import recall

    model = next(iter(recall_models.values()))
    spec = recall.spec(model)
    seq = recall.sequence(model, spec["keys"][2], 30, seed=4)
    assert len(seq) == 32 and seq[0] == spec["keys"][2] and seq[-1] == spec["query"]
    assert set(seq[1:-1]) <= set(spec["distractors"]) and seq == recall.sequence(model, spec["keys"][2], 30, seed=4)
    with pytest.raises(InputError, match="key"):
        recall.ask(model, "?", 5)
    with pytest.raises(InputError, match="k must"):
        recall.ask(model, spec["keys"][0], -1)


def test_the_lstm_recalls_across_200_steps_and_the_rnn_does_not(recall_models):
    from core import recall

    by_arch = {m.info.arch: m for m in recall_models.values()}
    keys = recall.spec(by_arch["lstm"])["keys"]
    lstm_right = sum(recall.ask(by_arch["lstm"], key, 200, seed=s).answer == key for s, key in enumerate(keys * 3))
    rnn_right = sum(recall.ask(by_arch["rnn"], key, 200, seed=s).answer == key for s, key in enumerate(keys * 3))
    assert lstm_right >= 23 and rnn_right <= 12  # of 24; chance is 3


def test_shipped_recall_curves_reach_the_goals(recall_models):
    from core import recall

    by_arch = {m.info.arch: m for m in recall_models.values()}
    lstm = recall.curve(by_arch["lstm"])
    assert lstm[200] >= 0.99 and lstm[500] >= 0.9
    rnn_horizon = by_arch["rnn"].info.horizon_90
    assert by_arch["lstm"].info.horizon_90 >= 10 * rnn_horizon


def test_per_position_facts_carried_from_keystroke_to_keystroke_equal_a_fresh_read(models):
    """Typing (keys the lookahead covered and keys it did not), a backspace and an edit in the middle: each
    reading's surprisal, top guesses and next distribution reuse the previous one's, and equal what its logits
    say."""
    texts = ["T", "To", "To b", "To be, or not to be", "To be, or not to b", "To be, or not to bx", "Tu be, or"]
    texts += ["To be, or not to be, that is the question: whether 'tis nobler in the mind"[:n] for n in (40, 70)]
    texts += ["To be, or not to be, that is the question: whether 'tis nobler in the mind"[:n] for n in (71, 72)]
    for model in models.values():
        reading = None
        for text in texts:
            reading = read(model, text, reading)
            fresh = read(model, text)
            np.testing.assert_allclose(reading.surprisal_bits(), fresh.surprisal_bits(), atol=1e-3, equal_nan=True)
            probs = softmax(fresh.logits)
            assert reading.guesses.tolist() == fresh.guesses.tolist() == probs.argmax(axis=1).tolist()
            np.testing.assert_allclose(reading.guess_p, probs.max(axis=1), atol=1e-5)
            np.testing.assert_allclose(reading.next_probs(), probs[-1], atol=1e-5)
            ids, p = reading.likeliest(5)
            want = top_k(probs[-1], 5)
            assert ids.tolist() == [i for i, _ in want]
            np.testing.assert_allclose(p, [q for _, q in want], atol=1e-5)
            lookahead(model, reading, 5, np.array([model.info.vocab.index[ch] for ch in "mi"]))  # covers 71, 72


def test_a_key_the_lookahead_covered_is_read_from_its_step_without_running_the_model(models, monkeypatch):
    for model in models.values():
        before = read(model, "To be, or not to ")
        lookahead(model, before, 5, np.array([model.info.vocab.index[ch] for ch in "bx"]))
        runs = []
        original = model.run

        def counted(*args, runs=runs, original=original, **kwargs):
            runs.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(model, "run", counted)
        after = read(model, "To be, or not to b", before)
        assert runs == []  # taken from the lookahead's step
        fresh = read(model, "To be, or not to b")
        np.testing.assert_allclose(after.logits, fresh.logits, atol=2e-5)
        np.testing.assert_allclose(after.surprisal_bits(), fresh.surprisal_bits(), atol=1e-4, equal_nan=True)
        for name in model.state_names:
            np.testing.assert_allclose(after.state[name], fresh.state[name], atol=2e-5)
        assert sorted(after.checkpoints) == sorted(
            read(model, "To be, or not to b", before_without(before)).checkpoints
        )
        ran, rows = len(runs), rows_stepped(model, monkeypatch)
        missed = read(model, "To be, or not to q", before)  # a key it did not cover runs one step
        assert [1] * (len(runs) - ran) + rows == [1]
        np.testing.assert_allclose(missed.logits, read(model, "To be, or not to q").logits, atol=2e-5)
        monkeypatch.undo()


def before_without(reading):
    """The same reading with nothing looked ahead."""
    from dataclasses import replace

    return replace(reading, ahead={})


def test_the_lab_s_lstm_cell_state_is_the_one_the_model_itself_carries(models):
    """The lab rebuilds c_t = f_t * c_(t-1) + i_t * g_t from the cell's gates; the fused graph carries c on its
    own. Reading the gates in the wrong order (input and forget swapped, say) makes the two disagree."""
    from core.memory import trace

    model = models["lstm"]
    text = "To be, or not to be, that is the question"
    tr = trace(model, text)
    fused = model.run(model.info.vocab.encode(text)[None])
    np.testing.assert_allclose(tr.after["c"][-1], fused["c_out"][0, -1], atol=2e-4)
    np.testing.assert_allclose(tr.after["h"][-1], fused["h_out"][0, -1], atol=2e-4)


def test_gradient_norms_through_time_match_an_exact_computation_at_each_distance(models):
    """analyse() estimates ||dh_T/dh_(T-k)||_F / sqrt(H) with random probes; with the H unit vectors as probes
    the same backward pass gives it exactly. The curve must match distance by distance (a curve read back to
    front would be off by orders of magnitude for the RNN, whose gradient vanishes)."""
    from core.memory import analyse, backprop, trace

    text = "the king of Denmark is dead and"
    for mid in ["rnn", "lstm"]:
        model = models[mid]
        hidden = model.info.hidden_size
        tr = trace(model, text)
        upstream = {n: np.zeros((hidden, hidden), np.float32) for n in model.state_names}
        upstream["h"] = np.eye(hidden, dtype=np.float32)
        _, gh = backprop(model, tr, upstream, np.zeros((hidden, len(model.info.vocab)), np.float32))
        steps = len(tr.ids)
        exact = [np.sqrt((gh[steps - k] ** 2).sum()) / np.sqrt(hidden) for k in range(1, steps)]
        estimated = analyse(model, text, probes=64).gradient_norms
        assert estimated[0] == 1.0
        np.testing.assert_allclose(estimated[1:], exact, rtol=0.35)
        if mid == "rnn":
            assert exact[-1] < exact[0] / 100  # it vanishes: the check above could not pass reversed


def test_the_lab_s_cell_state_recurrence_on_a_hand_computed_case(monkeypatch):
    """Two steps of one LSTM unit with gates chosen by hand: c_1 = f_1 * 0 + i_1 * g_1 = 0.5 * 0.8 = 0.4, then
    c_2 = f_2 * c_1 + i_2 * g_2 = 0.25 * 0.4 + 0.9 * (-0.5) = -0.35. Gates read in the wrong order, or the
    recurrence written another way, give other numbers."""
    from types import SimpleNamespace

    from core import memory
    from core.contract import GATE_NAMES, Vocab, in_gate_order

    by_name = {"input": [0.5, 0.9], "forget": [0.3, 0.25], "candidate": [0.8, -0.5], "output": [0.7, 0.6]}
    gates = np.array(in_gate_order("lstm", by_name), np.float32).T[:, :, None]  # (T=2, G=4, H=1)
    assert gates.shape == (2, len(GATE_NAMES["lstm"]), 1)
    vocab = Vocab(["<unk>", "a", "b"])
    info = SimpleNamespace(arch="lstm", vocab=vocab, hidden_size=1)
    fused = {"hidden": np.zeros((1, 2, 1), np.float32), "logits": np.zeros((1, 2, 3), np.float32)}
    model = SimpleNamespace(info=info, state_names=("h", "c"), cell=object(), run=lambda ids: fused)
    monkeypatch.setattr(memory, "run_graph", lambda cell, feed: {"gates": gates, "logits": fused["logits"][0][:, None]})
    tr = memory.trace(model, "ab")
    np.testing.assert_allclose(tr.after["c"][:, 0], [0.4, -0.35], rtol=1e-6)
    np.testing.assert_allclose(tr.before["c"][:, 0], [0.0, 0.4], rtol=1e-6)
