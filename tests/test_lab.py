"""The memory lab page through AppTest: its numbers must be the runtime's numbers."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import recall
from core.contract import gate_index
from core.memory import analyse
from core.models import load_models
from ui.lab import DEFAULT_TEXT

TIMEOUT = 120


@pytest.fixture(scope="module")
def lab():
    at = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


def metric(at, label_start: str, exact: bool = False) -> str:
    return next(m.value for m in at.metric if (m.label == label_start if exact else m.label.startswith(label_start)))


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_recall_horizons_shown_are_the_measured_ones(lab):
    models, _ = load_models(task="recall")
    for model in models.values():
        name = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}[model.info.arch]
        assert metric(lab, f"{name} horizon") == f"{model.info.horizon_90:,} steps"
    by_arch = {m.info.arch: m.info.horizon_90 for m in models.values()}
    expected = f"{by_arch['lstm'] / by_arch['rnn']:.0f}×" if by_arch["rnn"] else "∞"
    assert metric(lab, "LSTM horizon / RNN horizon") == expected


def test_live_recall_answers_come_from_the_models(lab):
    lab.selectbox(key="recall_key").select("C").run()
    lab.number_input(key="recall_k").set_value(7).run()
    assert not lab.exception
    models, _ = load_models(task="recall")
    for model in models.values():
        answer = recall.ask(model, "C", 7, 0)
        name = {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}[model.info.arch]
        assert metric(lab, name, exact=True).startswith(answer.answer)


def test_memory_horizons_shown_are_the_runtime_s(lab):
    models, _ = load_models()
    for model in models.values():
        name = {"ff": "Feed-forward", "rnn": "Vanilla RNN", "lstm": "LSTM"}[model.info.arch]
        shown = metric(lab, f"{name} memory horizon")
        assert shown == f"{analyse(model, DEFAULT_TEXT).horizon} characters back"
    assert metric(lab, "Feed-forward memory horizon") == "0 characters back"


def test_gradient_and_clipping_charts_are_drawn(lab):
    text = json.dumps(chart_specs(lab))
    assert "dh_T / dh_(T" in text and "gradient norm before clipping" in text and "training loss" in text
    assert any("clipping at 1.0" in t.value for t in lab.text) and any("no clipping" in t.value for t in lab.text)


def test_the_unit_picker_offers_tracking_units_first(lab):
    options = lab.selectbox(key="lstm_unit").options
    assert options[0].startswith("unit ") and "tracks" in options[0]
    second = int(options[1].split(":")[0].split()[1])  # the label names the unit; the value is its index
    lab.selectbox(key="lstm_unit").select(second).run()
    lab.radio(key="lstm_gate").set_value("forget").run()
    assert not lab.exception
    # what the page draws follows the pick: the strip's caption names the unit picked, and no other
    captions = [x.value for x in lab.text if "cell state over your text" in x.value]
    assert captions == [captions[0]] and captions[0].startswith(f"Unit {second}'s ")


@pytest.mark.parametrize("odd", ["😀 中文 <script>x</script>", "\x00\x07", "a"])
def test_odd_text_in_the_lab_never_crashes(odd):
    at = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    at.text_area(key="lab_text").input(odd).run()
    assert not at.exception
    plain = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    plain.text_area(key="lab_text").input("a").run()
    # the user's text never becomes markdown: the lab's markdown is the same as for a plain "a"
    assert len(at.markdown) == len(plain.markdown)
    assert not any(chunk in m.value for m in at.markdown for chunk in ["<script>", "😀", "\x07"])


def test_every_chart_the_lab_draws_is_valid_vega_lite(monkeypatch):
    """The lab skips Altair's schema check when it draws (ui/charts.spec); here every chart is built with it."""
    import streamlit as st

    from ui import charts

    built = []
    monkeypatch.setattr(charts, "spec", lambda chart: built.append(chart) or chart.to_dict(validate=True))
    st.cache_data.clear()  # the clipping charts are cached across sessions
    at = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(built) >= 10


def test_the_lstm_view_draws_each_gate_from_its_own_index(monkeypatch):
    """Input, forget and output gates sit where core.contract.gate_index says in the cell's `gates`: a view
    that mixes them up fails here."""
    from ui import charts
    from ui.lab import MIN_TRACKING_R, SHOWN_CHARS

    drawn, real = [], charts.matrix
    monkeypatch.setattr(
        charts,
        "matrix",
        lambda text, values, rows, *a, **k: drawn.append(np.array(values)) or real(text, values, rows, *a, **k),
    )
    at = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    lstm = next(m for m in load_models()[0].values() if m.info.arch == "lstm")
    memory = analyse(lstm, DEFAULT_TEXT)
    gates, start = memory.trace.gates, max(0, len(DEFAULT_TEXT) - SHOWN_CHARS)
    unit = at.selectbox(key="lstm_unit").value
    cell = np.tanh(memory.trace.after["c"][start:, unit])
    i, f, o = (gate_index("lstm", g) for g in ("input", "forget", "output"))
    expected = np.stack([gates[start:, i, unit], gates[start:, f, unit], gates[start:, o, unit], cell])
    np.testing.assert_allclose(drawn[0], expected, atol=1e-5)
    at.radio(key="lstm_gate").set_value("forget").run()
    tracking = [u.unit for u in lstm.info.tracking_units if abs(u.correlation) >= MIN_TRACKING_R]
    shown = (tracking + [u for u in range(lstm.info.hidden_size) if u not in tracking])[:16]
    np.testing.assert_allclose(drawn[-1], gates[start:, f, shown].T, atol=1e-5)


def test_a_new_text_is_analysed_afresh_not_served_from_the_cache():
    at = AppTest.from_file("../views/memory_lab.py", default_timeout=TIMEOUT).run()
    new = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer"
    at.text_area(key="lab_text").input(new).run()
    assert not at.exception
    models, _ = load_models()
    shown = {
        m.id: metric(
            at, f"{ {'ff': 'Feed-forward', 'rnn': 'Vanilla RNN', 'lstm': 'LSTM'}[m.info.arch] } memory horizon"
        )
        for m in models.values()
    }
    fresh = {m.id: f"{analyse(m, new).horizon} characters back" for m in models.values()}
    old = {m.id: f"{analyse(m, DEFAULT_TEXT).horizon} characters back" for m in models.values()}
    assert shown == fresh and fresh != old
