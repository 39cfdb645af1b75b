"""The memory lab's panels: recall against lag, influence of earlier characters, gradients through time,
and the LSTM's gates. One function each, drawing with Streamlit and returning what it computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from core import recall
from core.errors import UnrolledError
from core.memory import MAX_ANALYSIS_CHARS, Memory, analyse
from core.models import Model, models_dir
from core.text import cap
from ui import charts
from ui.panels import display_name, prose

GATES = {"input gate": 0, "forget gate": 1, "output gate": 3, "cell state": None}
SHOWN_CHARS = 80  # columns of the gate heatmaps
MIN_TRACKING_R = 0.2  # weaker correlations are not offered as a unit that "tracks" something


def recall_panel(models: dict[str, Model]) -> dict:
    st.header("How far back can each model remember?")
    prose("recall")
    if not models:
        st.info("No recall models are installed. Train them with `python -m export.train recall`.")
        return {}
    rows, horizons = [], {}
    for model in models.values():
        curve = recall.curve(model)
        rows += [{"model": display_name(model), "k": k, "accuracy": acc} for k, acc in curve.items()]
        horizons[model.id] = model.info.entry["metrics"]["horizon_90"]
    st.vega_lite_chart(
        charts.spec(
            charts.lines(
                rows, "k", "accuracy", "model", "k: distractors between key and query", "accuracy", log_x=True, rule=0.9
            )
        ),
        key="recall_curve",
    )
    columns = st.columns(len(models) + 1)
    for column, model in zip(columns, models.values(), strict=False):
        column.metric(f"{display_name(model)} horizon (≥ 90%)", f"{horizons[model.id]:,} steps")
    by_arch = {m.info.arch: horizons[m.id] for m in models.values()}
    if "rnn" in by_arch and "lstm" in by_arch:
        ratio = f"{by_arch['lstm'] / by_arch['rnn']:.0f}×" if by_arch["rnn"] else "∞"
        columns[-1].metric("LSTM horizon / RNN horizon", ratio)
        if not by_arch["rnn"]:
            columns[-1].caption(
                "The RNN reaches 90% at no lag at all: trained on long lags, it never learned the task."
            )
    live_recall(models)
    return horizons


def live_recall(models: dict[str, Model]) -> dict:
    st.subheader("Try it: pick a key and a lag")
    keys = recall.spec(next(iter(models.values())))["keys"]
    left, middle, right = st.columns(3)
    key = left.selectbox("Key", list(keys), key="recall_key", bind="query-params")
    k = middle.number_input("k (distractors)", 0, 2000, 200, 10, key="recall_k", bind="query-params")
    seed = right.number_input("Distractor seed", 0, 10_000, 0, key="recall_seed", bind="query-params")
    answers = {}
    for column, model in zip(st.columns(len(models)), models.values(), strict=True):
        try:
            answers[model.id] = answer = recall.ask(model, key, int(k), int(seed))
        except UnrolledError as e:
            column.error(str(e))
            continue
        verdict = "right" if answer.answer == key else "wrong"
        column.metric(
            display_name(model),
            f"{answer.answer} ({verdict})",
            f"{answer.confidence:.0%} sure",
            delta_color="normal" if verdict == "right" else "inverse",
        )
        rows = [{"char": c, "p": round(p, 4)} for c, p in answer.key_probs.items()]
        column.vega_lite_chart(charts.spec(charts.top_k_bars(rows)), key=f"recall_{model.id}", height=300)
    if answers:
        text = next(iter(answers.values())).sequence
        shown = text if len(text) <= 90 else f"{text[:40]} … ({len(text) - 50:,} more) … {text[-10:]}"
        st.text(f"The sequence ({len(text):,} characters): {shown}")
    return answers


def memories(models: dict[str, Model], text: str) -> dict[str, Memory]:
    """analyse() for every model that ships an analysis cell, cached per text for this session."""
    cache = st.session_state.setdefault("memories", {})
    if cache.get("text") != text:
        cache.clear()
        cache["text"] = text
    for mid, model in models.items():
        if mid not in cache and model.cell is not None:
            cache[mid] = analyse(model, text)
    return {mid: cache[mid] for mid in models if mid in cache}


def influence_panel(models: dict[str, Model], mems: dict[str, Memory]) -> dict[str, int]:
    st.header("Memory on your own text")
    prose("influence")
    columns = st.columns(len(mems))
    for column, (mid, mem) in zip(columns, mems.items(), strict=True):
        column.metric(f"{display_name(models[mid])} memory horizon", f"{mem.horizon} characters back")
    rows = []
    for mid, mem in mems.items():
        scaled = mem.influence / mem.influence.max() if mem.influence.max() > 0 else mem.influence
        st.text(f"{display_name(models[mid])}: influence of each character on the next guess")
        st.vega_lite_chart(
            charts.spec(charts.heat_strip(mem.trace.text, scaled, "influence", (0, 1), scheme="blues")),
            key=f"influence_{mid}",
            width="content",
        )
        back = scaled[::-1]
        rows += [
            {"model": display_name(models[mid]), "distance": d, "influence": float(v)}
            for d, v in enumerate(back)
            if v > 0
        ]
    st.vega_lite_chart(
        charts.spec(
            charts.lines(
                rows,
                "distance",
                "influence",
                "model",
                "characters back from the last one",
                "influence (relative to the largest)",
                log_y=True,
            )
        ),
        key="influence_curve",
    )
    return {mid: mem.horizon for mid, mem in mems.items()}


def gradients_panel(models: dict[str, Model], mems: dict[str, Memory]) -> list[dict]:
    st.header("Gradients through time")
    prose("gradients")
    rows = [
        {"model": display_name(models[mid]), "k": k, "norm": float(v)}
        for mid, mem in mems.items()
        for k, v in enumerate(mem.gradient_norms)
        if np.isfinite(v) and v > 0
    ]
    st.vega_lite_chart(
        charts.spec(
            charts.lines(
                rows, "k", "norm", "model", "k: steps back in time", "‖dh_T / dh_(T−k)‖ (k = 0 is 1)", log_y=True
            )
        ),
        key="gradient_norms",
    )
    if any(not m.state_names for m in models.values()):
        st.caption("The feed-forward net has no line: its state does not depend on any earlier step at all.")
    return training_logs()


@st.cache_data(max_entries=4, show_spinner=False)
def clipping_charts(path: str, modified: float) -> tuple[list[dict], dict, dict]:
    """The clipping runs and their two charts, built once per file (by path and modification time): the
    same for every user, and the slowest charts on the page to build (~400 ms of Altair)."""
    runs = json.loads(Path(path).read_text())["runs"]
    rows = []
    for run in runs:
        label = run["label"] + (
            f" (stopped: loss not finite at step {run['diverged_at']})" if run["diverged_at"] else ""
        )
        rows += [
            {"run": label, "step": s, "gradient norm": g}
            for s, g in zip(run["log"]["step"], run["log"]["grad_norm"], strict=True)
            if g > 0
        ]
    threshold = next((r["clip"] for r in runs if r["clip"]), None)
    norms = charts.lines(
        rows,
        "step",
        "gradient norm",
        "run",
        "training step",
        "gradient norm before clipping",
        log_y=True,
        rule=threshold,
    )
    loss_rows = [
        {"run": r["label"], "step": s, "loss": v}
        for r in runs
        for s, v in zip(r["log"]["step"], r["log"]["loss"], strict=True)
        if np.isfinite(v)
    ]
    loss = charts.lines(loss_rows, "step", "loss", "run", "training step", "training loss (nats/char)")
    return runs, charts.spec(norms), charts.spec(loss)


def training_logs() -> list[dict]:
    path = models_dir() / "clipping.json"
    if not path.exists():
        st.info("No clipping runs are installed. Make them with `python -m export.train clipping`.")
        return []
    runs, norms, loss = clipping_charts(str(path), path.stat().st_mtime)
    st.vega_lite_chart(norms, key="clip_norms")
    st.vega_lite_chart(loss, key="clip_loss")
    for run in runs:
        clipped = sum(run["log"]["clipped"])
        st.text(
            f"{run['label']}: {len(run['log']['step'])} steps, largest gradient norm "
            f"{max(run['log']['grad_norm']):.3g}, clipped on {clipped} steps"
        )
    return runs


def lstm_panel(model: Model, mem: Memory) -> dict:
    st.header("Inside the LSTM")
    prose("lstm_inside")
    tracking = [u for u in model.info.entry.get("tracking_units", []) if abs(u["correlation"]) >= MIN_TRACKING_R]
    offered = [
        f"unit {u['unit']}: tracks {u['feature']} ({u['signal']}, r = {u['correlation']:+.2f})" for u in tracking
    ]
    units = [u["unit"] for u in tracking]
    rest = [u for u in range(model.info.hidden_size) if u not in units]
    choice = st.selectbox("Unit", offered + [f"unit {u}" for u in rest], key="lstm_unit")
    unit = int(choice.split(":")[0].split()[1])
    tr = mem.trace
    start = max(0, len(tr.text) - SHOWN_CHARS)
    text = tr.text[start:]
    cell = tr.after["c"][start:, unit]
    st.text(f"Unit {unit}'s cell state over your text (last {len(text)} characters):")
    st.vega_lite_chart(
        charts.spec(charts.heat_strip(text, np.tanh(cell), "tanh(c)", (-1, 1), scheme="redblue")),
        key="unit_strip",
        width="content",
    )
    values = np.stack([tr.gates[start:, 0, unit], tr.gates[start:, 1, unit], tr.gates[start:, 3, unit], np.tanh(cell)])
    st.vega_lite_chart(
        charts.spec(
            charts.matrix(
                text, values, ["input gate", "forget gate", "output gate", "tanh(cell)"], "value", (-1, 1), "redblue"
            )
        ),
        key="unit_gates",
    )
    gate = st.radio("Across units", list(GATES), horizontal=True, key="lstm_gate")
    shown_units = (units + rest)[:16]
    index = GATES[gate]
    rows = (np.tanh(tr.after["c"][start:, shown_units]) if index is None else tr.gates[start:, index, shown_units]).T
    domain = (-1.0, 1.0) if index is None else (0.0, 1.0)
    st.vega_lite_chart(
        charts.spec(
            charts.matrix(
                text, rows, [f"unit {u}" for u in shown_units], gate, domain, "redblue" if index is None else "viridis"
            )
        ),
        key="gate_matrix",
    )
    return {"unit": unit, "gate": gate}


def lab_text() -> str:
    # A text area, not the live one-line box: newlines matter here (line position, the units that track them).
    raw = st.text_area("Your text", key="lab_text", bind="query-params", value=DEFAULT_TEXT, height=110)
    text, was_cut = cap(raw or "", MAX_ANALYSIS_CHARS)
    if was_cut:
        st.info(f"Only the first {MAX_ANALYSIS_CHARS} characters are analysed: each costs two cell steps per model.")
    return text


DEFAULT_TEXT = (
    'LEARNER.\n[Aside.] I type a line, and the net must hold it.\nTEACHER.\nThen hold it long: "A" is the key.'
)
