"""The Streamlit app driven through AppTest: typing, what is shown, and what bad input and broken files do."""

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from core.models import SHIPPED_DIR, load_models
from core.predict import read, top_k
from core.text import MAX_CHARS, visible

TIMEOUT = 60


def start(**query) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def shown_top_chars(at: AppTest) -> list[list[str]]:
    """The characters on each top-k bar chart, most likely first, read from the charts' specs."""
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    bars = [s for s in specs if s.get("layer") and s["layer"][0]["mark"]["type"] == "bar"]
    return [s["layer"][0]["encoding"]["y"]["sort"] for s in bars]


def expected_top_chars(text: str) -> list[list[str]]:
    models, _ = load_models()
    order = ["ff", "rnn", "gru", "lstm"]
    ranked = sorted(models.values(), key=lambda m: order.index(m.info.arch))
    return [[visible(m.info.vocab.tokens[i]) for i, _ in top_k(read(m, text).next_probs(), 5)] for m in ranked]


def test_the_page_starts_on_neuron_with_every_model():
    at = start()
    assert not at.exception
    assert at.text_input(key="text").value == "neuron"
    assert shown_top_chars(at) == expected_top_chars("neuron")
    assert len(at.get("graphviz_chart")) == 3


def test_typing_changes_the_predictions_and_they_come_from_the_models():
    at = start()
    before = shown_top_chars(at)
    at.text_input(key="text").input("To be, or not to b").run()
    assert not at.exception
    after = shown_top_chars(at)
    assert after != before
    assert after == expected_top_chars("To be, or not to b")
    assert after[-1][0] == "e"  # the LSTM finishes Hamlet's line


def test_a_link_reproduces_the_page():
    at = start(text="ROMEO", temperature="1.2", seed="5")
    assert at.text_input(key="text").value == "ROMEO"
    assert shown_top_chars(at) == expected_top_chars("ROMEO")
    assert at.slider(key="temperature").value == pytest.approx(1.2) and at.number_input(key="seed").value == 5


def test_generation_is_reproducible_with_the_same_seed():
    first = [c.value for c in start(text="KING.\n", seed="3").code]
    again = [c.value for c in start(text="KING.\n", seed="3").code]
    other = [c.value for c in start(text="KING.\n", seed="4").code]
    assert len(first) == 3 and first == again and first != other


def test_a_long_link_is_cut_to_the_cap():
    at = start(text="a" * (MAX_CHARS + 300))  # Streamlit cuts a bound URL value to max_chars itself
    assert not at.exception and len(at.text_input(key="text").value) == MAX_CHARS


def test_long_input_is_capped_in_python_with_a_visible_note():
    """A client that skips the browser's max_chars still gets at most MAX_CHARS read."""
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.session_state["text"] = "a" * (MAX_CHARS + 300)
    at.run()
    assert not at.exception
    assert any(f"{MAX_CHARS:,}" in i.value for i in at.info)
    assert shown_top_chars(at) == expected_top_chars("a" * MAX_CHARS)


# (a lone surrogate cannot even be sent through AppTest; core's normalize() turns it into U+FFFD)
@pytest.mark.parametrize("odd", ["<b>bold</b> **x** [a](javascript:1)", "😀 中文 \x07\x00", "   "])
def test_odd_input_is_shown_literally_and_never_crashes(odd):
    at = start()
    at.text_input(key="text").input(odd).run()
    assert not at.exception
    assert all(odd.strip() not in m.value for m in at.markdown if odd.strip())  # never rendered as markdown


def test_unknown_characters_are_named_as_text():
    at = start()
    at.text_input(key="text").input("hi 😀").run()
    assert any("😀" in t.value and "unknown token" in t.value for t in at.text)


def test_empty_input_asks_for_text():
    at = start()
    at.text_input(key="text").input("").run()
    assert not at.exception and any("Type a character" in i.value for i in at.info)


def test_a_missing_model_is_switched_off_while_the_rest_works(tmp_path, monkeypatch):
    shutil.copytree(SHIPPED_DIR, tmp_path / "models")
    (tmp_path / "models" / "rnn.onnx").unlink()
    monkeypatch.setenv("UNROLLED_MODELS_DIR", str(tmp_path / "models"))
    at = start()
    assert not at.exception
    assert any("rnn" in w.value and "missing" in w.value for w in at.warning)
    assert len(shown_top_chars(at)) == 2


def test_no_models_at_all_gives_a_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("UNROLLED_MODELS_DIR", str(tmp_path))
    at = start()
    assert not at.exception
    assert any("No model could be loaded" in e.value for e in at.error)
