"""The Streamlit app driven through AppTest: typing, what is shown, and what bad input and broken files do."""

import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.models import SHIPPED_DIR, load_models
from core.predict import read, top_k
from core.text import MAX_CHARS, visible
from tests.helpers import component

TIMEOUT = 60


def start(**query) -> AppTest:
    at = AppTest.from_file("../unrolled.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def live_data(at: AppTest) -> dict:
    """The payload the live component was mounted with (its static parts merged in): what the page draws."""
    data = component(at, "-live")
    return {**data, **data.pop("static", {})}


def writer_data(at: AppTest) -> dict:
    return component(at, "-writer")


def in_order(data: dict) -> list[dict]:
    """Each model's view, in the order the page draws the cards (views are keyed by model id)."""
    return [data["views"][card["id"]] for card in data["models"]]


def shown_top_chars(at: AppTest) -> list[list[str]]:
    """The characters on each model's top-k bars, most likely first, as the page draws them."""
    data = live_data(at)
    return [[visible(card["vocab"][i]) for i in data["views"][card["id"]]["top"]["ids"]] for card in data["models"]]


def expected_top_chars(text: str) -> list[list[str]]:
    models, _ = load_models()
    order = ["ff", "rnn", "gru", "lstm"]
    ranked = sorted(models.values(), key=lambda m: order.index(m.info.arch))
    return [[visible(m.info.vocab.tokens[i]) for i, _ in top_k(read(m, text).next_probs(), 5)] for m in ranked]


def type_text(at: AppTest, text: str, seq: int = 1) -> AppTest:
    """What the live component sends when the box changes: its state, then a rerun."""
    at.session_state["live"] = {"typed": {"text": text, "seq": seq}}
    return at.run()


def test_the_page_starts_on_neuron_with_every_model():
    at = start()
    assert not at.exception
    data = live_data(at)
    assert data["text"] == "neuron" and data["label"] == "Type here: every model guesses the next character"
    assert shown_top_chars(at) == expected_top_chars("neuron")
    assert [c["name"] for c in data["models"]] == ["Feed-forward", "Vanilla RNN", "LSTM"]


def test_typing_changes_the_predictions_and_they_come_from_the_models():
    at = start()
    before = shown_top_chars(at)
    type_text(at, "To be, or not to b")
    assert not at.exception
    after = shown_top_chars(at)
    assert after != before
    assert after == expected_top_chars("To be, or not to b")
    assert after[-1][0] == "e"  # the LSTM finishes Hamlet's line
    assert live_data(at)["seq"] == 1 and at.query_params["text"] == "To be, or not to b"


def test_the_static_parts_travel_only_to_a_page_that_lacks_them():
    at = start()
    first = component(at, "-live")
    assert "static" in first and first["static"]["models"]
    at.session_state["live"] = {"typed": {"text": "neuro", "seq": 1, "has": first["static_key"]}}
    at.run()
    reply = component(at, "-live")
    assert "static" not in reply and reply["text"] == "neuro" and len(reply["views"]) == 3
    at.session_state["live"] = {"typed": {"text": "neur", "seq": 2, "has": "en:someone-else"}}
    at.run()
    assert "static" in component(at, "-live")


def test_the_lookahead_row_of_each_next_key_is_what_the_page_shows_after_it():
    """The page draws a key's predictions from the last reply before the server sees the key: the row for
    that key must be exactly what the server then sends for the longer text."""
    at = start(text="To be, or not to ")
    ahead = live_data(at)
    type_text(at, "To be, or not to b")
    after = live_data(at)
    for card, view_before, view_after in zip(ahead["models"], in_order(ahead), in_order(after), strict=True):
        b = card["vocab"].index("b")
        row = view_before["ahead"]["keys"].index(b)  # "b" is among the likeliest next characters here
        assert view_after["top"]["ids"] == view_before["ahead"]["ids"][row]
        assert view_after["top"]["p"] == pytest.approx(view_before["ahead"]["p"][row], abs=6e-4)  # 3 decimals
        assert view_after["bits"][-1] == pytest.approx(view_before["ahead"]["bits"][row], abs=2e-3)


def test_the_lookahead_covers_the_likeliest_next_characters_the_same_for_every_model():
    data = live_data(start(text="To be, or not to "))
    keys = [{card["vocab"][i] for i in data["views"][card["id"]]["ahead"]["keys"]} for card in data["models"]]
    assert keys[0] == keys[1] == keys[2] and len(keys[0]) == 16
    lstm = data["views"]["lstm"]
    assert {data["models"][2]["vocab"][i] for i in lstm["top"]["ids"]} <= keys[2]  # its own top five among them
    assert "b" in keys[0] and "\x07" not in keys[0]


def test_surprisal_shown_is_minus_log2_of_what_each_model_gave_each_character():
    at = start(text="To be, or not to b")
    models, _ = load_models()
    order = ["ff", "rnn", "gru", "lstm"]
    ranked = sorted(models.values(), key=lambda m: order.index(m.info.arch))
    for model, view in zip(ranked, in_order(live_data(at)), strict=True):
        expected = read(model, "To be, or not to b").surprisal_bits()
        assert view["bits"][0] is None and min(view["bits"][1:]) >= 0 and max(view["bits"][1:]) > 1
        np.testing.assert_allclose(view["bits"][1:], expected[1:], atol=2e-3)


def test_the_unrolled_networks_show_the_last_characters_and_recurrence_only_for_recurrent_nets():
    at = start(text="To be, or not to b")
    data = live_data(at)
    assert [c["recurrent"] for c in data["models"]] == [False, True, True]
    for view in in_order(data):
        assert "".join(view["steps"]["chars"]) == "To be, or not to b"[-8:]
        assert view["steps"]["guess"][-1] == view["top"]["ids"][0]  # the last step's guess is the top guess


def test_a_link_reproduces_the_page():
    at = start(text="ROMEO", temperature="1.2", seed="5")
    assert live_data(at)["text"] == "ROMEO"
    assert shown_top_chars(at) == expected_top_chars("ROMEO")
    assert at.slider(key="temperature").value == pytest.approx(1.2) and at.number_input(key="seed").value == 5


def test_generation_is_reproducible_with_the_same_seed():
    first = [w["text"] for w in writer_data(start(text="KING.\n", seed="3"))["written"]]
    again = [w["text"] for w in writer_data(start(text="KING.\n", seed="3"))["written"]]
    other = [w["text"] for w in writer_data(start(text="KING.\n", seed="4"))["written"]]
    assert len(first) == 3 and first == again and first != other


def test_the_continuations_follow_the_text_in_the_box():
    """(AppTest reruns the whole script, so it cannot show that a keystroke's fragment run skips generation;
    tests/test_browser.py checks that in the real page.)"""
    at = start()
    assert writer_data(at)["for_text"] == "neuron"
    at.session_state["writer"] = {"write": "neuron and the king"}  # the writer asks once typing pauses
    at.run()
    data = writer_data(at)
    assert data["for_text"] == "neuron and the king" and data["prompt_tail"].endswith("the king")
    assert len(data["prompt_tail"]) >= 19


def test_a_long_link_is_cut_to_the_cap():
    at = start(text="a" * (MAX_CHARS + 300))
    assert not at.exception
    data = live_data(at)
    assert data["cut"] and len(data["text"]) == MAX_CHARS


def test_long_input_is_capped_in_python_with_a_visible_note():
    """A client that skips the browser's max_chars still gets at most MAX_CHARS read."""
    at = start()
    type_text(at, "a" * (MAX_CHARS + 300))
    assert not at.exception
    data = live_data(at)
    assert data["cut"] and data["text"] == "a" * MAX_CHARS
    assert shown_top_chars(at) == expected_top_chars("a" * MAX_CHARS)


# (a lone surrogate cannot even be sent through AppTest; core's normalize() turns it into U+FFFD)
@pytest.mark.parametrize("odd", ["<b>bold</b> **x** [a](javascript:1)", "😀 中文 \x07\x00", "   "])
def test_odd_input_is_shown_literally_and_never_crashes(odd):
    at = type_text(start(), odd)
    assert not at.exception
    data = live_data(at)
    assert data["text"] == odd and len(data["views"]) == 3  # read, character for character
    assert len(in_order(data)[0]["bits"]) == len(odd)
    # never rendered as markdown: the page's markdown is exactly what it is for a plain "a" (a check that can
    # fail for whitespace too, where looking for the text itself inside the markdown could not)
    assert [m.value for m in at.markdown] == [m.value for m in type_text(start(), "a").markdown]


def test_unknown_characters_are_named():
    data = live_data(type_text(start(), "hi 😀"))
    assert data["unknown"] == ["😀"]


def test_empty_input_reads_nothing_and_breaks_nothing():
    at = type_text(start(), "")
    assert not at.exception
    data = live_data(at)
    assert data["text"] == "" and data["views"] == {}


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
