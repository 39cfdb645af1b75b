"""The memory lab's panels: recall against lag, influence of earlier characters, gradients through time,
and the LSTM's gates. One function each, drawing with Streamlit and returning what it computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from core import recall
from core.checks import PAGE_SEED_MAX
from core.contract import gate_index
from core.errors import UnrolledError
from core.memory import MAX_ANALYSIS_CHARS, Memory, analyse
from core.models import Model, models_dir
from core.text import cap, visible
from ui import charts, i18n
from ui.i18n import t
from ui.panels import display_name, prose

# Where each gate sits in the analysis cell's `gates` output; None: the cell state itself, not a gate.
GATES = {g: gate_index("lstm", g) for g in ("input", "forget", "output")} | {"cell": None}
SHOWN_CHARS = 80  # columns of the gate heatmaps
MIN_TRACKING_R = 0.2  # weaker correlations are not offered as a unit that "tracks" something


def chart_words() -> dict[str, str]:
    """The words the charts' tooltips use, in the page's language."""
    return {"character": t("lab.character"), "position": t("lab.position"), "series": t("lab.series")}


def recall_panel(models: dict[str, Model]) -> dict:
    st.header(t("lab.recall_title"))
    prose("recall")
    if not models:
        st.info(t("lab.no_recall"))
        return {}
    rows, horizons = [], {}
    for model in models.values():
        curve = recall.curve(model)
        rows += [{"model": display_name(model), "k": k, "accuracy": acc} for k, acc in curve.items()]
        horizons[model.id] = model.info.horizon_90
    st.vega_lite_chart(
        charts.spec(
            charts.lines(
                rows,
                "k",
                "accuracy",
                "model",
                t("lab.k_axis"),
                t("lab.accuracy"),
                log_x=True,
                rule=0.9,
                words=chart_words(),
            )
        ),
        key="recall_curve",
        alt=t(
            "lab.recall_alt",
            summary="; ".join(
                f"{display_name(m)}: " + ", ".join(f"k={k} {acc:.0%}" for k, acc in recall.curve(m).items())
                for m in models.values()
            ),
        ),
    )
    columns = st.columns(len(models) + 1)
    for column, model in zip(columns, models.values(), strict=False):
        column.metric(t("lab.horizon", name=display_name(model)), t("lab.steps", n=f"{horizons[model.id]:,}"))
    by_arch = {m.info.arch: horizons[m.id] for m in models.values()}
    if "rnn" in by_arch and "lstm" in by_arch:
        ratio = f"{by_arch['lstm'] / by_arch['rnn']:.0f}×" if by_arch["rnn"] else "∞"
        columns[-1].metric(t("lab.horizon_ratio"), ratio)
        if not by_arch["rnn"]:
            columns[-1].markdown(t("lab.rnn_never"))
    live_recall(models)
    return horizons


def live_recall(models: dict[str, Model]) -> dict:
    st.subheader(t("lab.try_title"))
    keys = recall.spec(next(iter(models.values())))["keys"]
    left, middle, right = st.columns(3)
    key = left.selectbox(t("lab.key"), list(keys), key="recall_key", bind="query-params")
    k = middle.number_input(t("lab.k"), 0, recall.MAX_K, 200, 10, key="recall_k", bind="query-params")
    seed = right.number_input(t("lab.distractor_seed"), 0, PAGE_SEED_MAX, 0, key="recall_seed", bind="query-params")
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
            f"{answer.answer} ({t('lab.' + verdict)})",
            t("lab.sure", p=f"{answer.confidence:.0%}"),
            delta_color="normal" if verdict == "right" else "inverse",
        )
        rows = [{"char": c, "p": round(p, 4)} for c, p in answer.key_probs.items()]
        column.vega_lite_chart(
            charts.spec(charts.top_k_bars(rows, x_title=t("lab.probability"))),
            key=f"recall_{model.id}",
            height=300,
            alt=t(
                "lab.key_probs_alt",
                name=display_name(model),
                probs=", ".join(f"{r['char']} {r['p']:.0%}" for r in rows),
            ),
        )
    if answers:
        text = next(iter(answers.values())).sequence
        shown = text if len(text) <= 90 else f"{text[:40]} … ({len(text) - 50:,}) … {text[-10:]}"
        st.text(t("lab.sequence", n=f"{len(text):,}", shown=shown))
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
    st.header(t("lab.memory_title"))
    prose("influence")
    columns = st.columns(len(mems))
    for column, (mid, mem) in zip(columns, mems.items(), strict=True):
        column.metric(t("lab.memory_horizon", name=display_name(models[mid])), t("lab.chars_back", n=mem.horizon))
    rows = []
    for mid, mem in mems.items():
        scaled = mem.influence / mem.influence.max() if mem.influence.max() > 0 else mem.influence
        st.text(t("lab.influence_of", name=display_name(models[mid])))
        strongest = np.argsort(-scaled)[:3]
        st.vega_lite_chart(
            charts.spec(
                charts.heat_strip(
                    mem.trace.text, scaled, t("lab.influence"), (0, 1), scheme="blues", words=chart_words()
                )
            ),
            key=f"influence_{mid}",
            width="content",
            alt=t(
                "lab.influence_alt",
                name=display_name(models[mid]),
                top=", ".join(f"{visible(mem.trace.text[i])} ({len(scaled) - 1 - i})" for i in strongest),
            ),
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
                t("lab.distance_axis"),
                t("lab.influence_axis"),
                log_y=True,
                words=chart_words(),
            )
        ),
        key="influence_curve",
        alt=t(
            "lab.horizons_alt",
            summary=", ".join(f"{display_name(models[mid])} {mem.horizon}" for mid, mem in mems.items()),
        ),
    )
    return {mid: mem.horizon for mid, mem in mems.items()}


def gradients_panel(models: dict[str, Model], mems: dict[str, Memory]) -> list[dict]:
    st.header(t("lab.gradients_title"))
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
                rows, "k", "norm", "model", t("lab.k_back_axis"), t("lab.norm_axis"), log_y=True, words=chart_words()
            )
        ),
        key="gradient_norms",
        alt=t(
            "lab.norms_alt",
            summary="; ".join(
                f"{display_name(models[mid])}: "
                + ", ".join(f"k={k} {mem.gradient_norms[k]:.1e}" for k in (10, 50, 100) if k < len(mem.gradient_norms))
                for mid, mem in mems.items()
                if models[mid].state_names
            ),
        ),
    )
    if any(not m.state_names for m in models.values()):
        st.markdown(t("lab.ff_no_line"))  # st.caption's grey fails the 4.5:1 contrast check (axe)
    return training_logs()


@st.cache_data(max_entries=4, show_spinner=False)
def clipping_charts(path: str, modified: float, lang: str) -> tuple[list[dict], dict, dict]:
    """The clipping runs and their two charts, built once per file (by path and modification time): the
    same for every user, and the slowest charts on the page to build (~400 ms of Altair)."""
    runs = json.loads(Path(path).read_text())["runs"]
    rows = []
    for run in runs:
        label = run_label(run) + (t("lab.diverged", step=run["diverged_at"]) if run["diverged_at"] else "")
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
        t("lab.step_axis"),
        t("lab.grad_axis"),
        log_y=True,
        rule=threshold,
        words=chart_words(),
    )
    loss_rows = [
        {"run": run_label(r), "step": s, "loss": v}
        for r in runs
        for s, v in zip(r["log"]["step"], r["log"]["loss"], strict=True)
        if np.isfinite(v)
    ]
    loss = charts.lines(loss_rows, "step", "loss", "run", t("lab.step_axis"), t("lab.loss_axis"), words=chart_words())
    return runs, charts.spec(norms), charts.spec(loss)


def training_logs() -> list[dict]:
    path = models_dir() / "clipping.json"
    if not path.exists():
        st.info(t("lab.no_clipping"))
        return []
    try:
        runs, norms, loss = clipping_charts(str(path), path.stat().st_mtime, i18n.lang())
    except (OSError, ValueError, KeyError, TypeError) as e:  # not JSON, or not the runs export/train.py writes
        st.warning(t("lab.bad_clipping", problem=f"{type(e).__name__}: {e}"))
        return []
    summaries = [
        t(
            "lab.run_summary",
            run=run_label(run),
            steps=len(run["log"]["step"]),
            largest=f"{max(run['log']['grad_norm']):.3g}",
            clipped=sum(run["log"]["clipped"]),
        )
        for run in runs
    ]
    st.vega_lite_chart(norms, key="clip_norms", alt=" ".join(summaries))
    st.vega_lite_chart(
        loss,
        key="clip_loss",
        alt=t(
            "lab.loss_alt", summary="; ".join(f"{run_label(r)}: {np.nanmean(r['log']['loss'][-20:]):.2f}" for r in runs)
        ),
    )
    for line in summaries:
        st.text(line)
    return runs


def run_label(run: dict) -> str:
    return t("lab.run_clipped", clip=run["clip"]) if run["clip"] else t("lab.run_unclipped")


def lstm_panel(model: Model, mem: Memory) -> dict:
    st.header(t("lab.lstm_title"))
    prose("lstm_inside")
    tracking = [u for u in model.info.tracking_units if abs(u.correlation) >= MIN_TRACKING_R]
    found = {u.unit: u for u in tracking}
    units = list(found)
    rest = [u for u in range(model.info.hidden_size) if u not in found]

    def unit_label(u: int) -> str:
        if u not in found:
            return t("lab.unit", unit=u)
        f = found[u]
        feature = t(f"lab.feature_{f.feature}")  # the contract only admits UNIT_FEATURES
        return t("lab.unit_tracks", unit=u, feature=feature, signal=f.signal, r=f"{f.correlation:+.2f}")

    unit = st.selectbox(t("lab.unit_picker"), units + rest, format_func=unit_label, key="lstm_unit")
    tr = mem.trace
    start = max(0, len(tr.text) - SHOWN_CHARS)
    text = tr.text[start:]
    cell = tr.after["c"][start:, unit]
    st.text(t("lab.unit_cell", unit=unit, n=len(text)))
    st.vega_lite_chart(
        charts.spec(charts.heat_strip(text, np.tanh(cell), "tanh(c)", (-1, 1), scheme="redblue", words=chart_words())),
        key="unit_strip",
        width="content",
        alt=t("lab.unit_alt", unit=unit, low=f"{np.tanh(cell).min():+.2f}", high=f"{np.tanh(cell).max():+.2f}"),
    )
    values = np.stack([tr.gates[start:, GATES[g], unit] for g in ("input", "forget", "output")] + [np.tanh(cell)])
    gate_names = [t("lab.gate_input"), t("lab.gate_forget"), t("lab.gate_output"), "tanh(cell)"]
    st.vega_lite_chart(
        charts.spec(charts.matrix(text, values, gate_names, t("lab.value"), (-1, 1), "redblue", words=chart_words())),
        key="unit_gates",
        alt=t(
            "lab.gates_alt",
            unit=unit,
            summary=", ".join(f"{name} {row.mean():.2f}" for name, row in zip(gate_names, values, strict=True)),
        ),
    )
    gate = st.radio(
        t("lab.across_units"), list(GATES), format_func=lambda g: t(f"lab.gate_{g}"), horizontal=True, key="lstm_gate"
    )
    shown_units = (units + rest)[:16]
    index = GATES[gate]
    rows = (np.tanh(tr.after["c"][start:, shown_units]) if index is None else tr.gates[start:, index, shown_units]).T
    domain = (-1.0, 1.0) if index is None else (0.0, 1.0)
    st.vega_lite_chart(
        charts.spec(
            charts.matrix(
                text,
                rows,
                [t("lab.unit", unit=u) for u in shown_units],
                t(f"lab.gate_{gate}"),
                domain,
                "redblue" if index is None else "viridis",
                words=chart_words(),
            )
        ),
        key="gate_matrix",
        alt=t("lab.matrix_alt", gate=t(f"lab.gate_{gate}"), n=len(shown_units), mean=f"{rows.mean():.2f}"),
    )
    return {"unit": unit, "gate": gate}


def lab_text() -> str:
    # A text area, not the live one-line box: newlines matter here (line position, the units that track them).
    raw = st.text_area(t("lab.your_text"), key="lab_text", bind="query-params", value=DEFAULT_TEXT, height=110)
    text, was_cut = cap(raw or "", MAX_ANALYSIS_CHARS)
    if was_cut:
        st.info(t("lab.cut", n=MAX_ANALYSIS_CHARS))
    return text


DEFAULT_TEXT = (
    'LEARNER.\n[Aside.] I type a line, and the net must hold it.\nTEACHER.\nThen hold it long: "A" is the key.'
)
