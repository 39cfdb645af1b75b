"""The app's panels: one function each, drawing with Streamlit and returning what it computed.

Anything that holds user text goes through st.text, st.code or chart data; never st.markdown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import UnrolledError
from core.models import Model, load_models
from core.predict import Reading, read, sample, softmax, top_k
from core.text import visible
from ui import charts

CONTENT = Path(__file__).resolve().parent.parent / "content"
NAMES = {"ff": "Feed-forward", "rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
ORDER = {"ff": 0, "rnn": 1, "gru": 2, "lstm": 3}


@st.cache_resource(show_spinner="Loading models…")
def shared_models(folder: str, task: str = "text") -> tuple[dict[str, Model], dict[str, str]]:
    """One InferenceSession per model for every user (sessions are thread-safe); problems by model id."""
    try:
        models, problems = load_models(Path(folder), task=task)
    except UnrolledError as e:
        return {}, {"manifest": str(e)}
    models = dict(sorted(models.items(), key=lambda item: ORDER.get(item[1].info.arch, 9)))
    return models, problems


def prose(name: str) -> None:
    st.markdown((CONTENT / f"{name}.md").read_text(encoding="utf-8"))


def display_name(model: Model) -> str:
    return NAMES.get(model.info.arch, model.info.arch)


def readings(models: dict[str, Model], text: str) -> dict[str, Reading]:
    """Each model's reading of `text`, reusing this user's previous reading when the text only grew."""
    previous = st.session_state.get("readings", {})
    current = {mid: read(model, text, previous.get(mid)) for mid, model in models.items()}
    st.session_state["readings"] = current
    return current


def model_card(model: Model) -> dict:
    entry = model.info.entry
    facts = {
        "parameters": f"{model.info.params:,}",
        "held-out loss": f"{entry['metrics']['test_nats_per_char']:.3f} nats/char",
        "training": f"{entry.get('training', {}).get('seconds', 0) / 60:.1f} min, "
        f"{entry.get('training', {}).get('steps', 0):,} steps",
    }
    with st.container(border=True):
        st.markdown(f"**{display_name(model)}** · `{model.info.arch}` · hidden size {model.info.hidden_size}")
        st.caption(" · ".join(f"{k}: {v}" for k, v in facts.items()))
    return facts


def predictions_panel(models: dict[str, Model], reads: dict[str, Reading], k: int = 5) -> dict[str, list]:
    """Each model side by side: its card and its top-k next characters."""
    shown = {}
    for column, (mid, model) in zip(st.columns(len(models)), models.items(), strict=True):
        with column:
            model_card(model)
            tokens = model.info.vocab.tokens
            guesses = [(tokens[i], p) for i, p in top_k(reads[mid].next_probs(), k)]
            rows = [{"char": visible(ch), "p": round(p, 4)} for ch, p in guesses]
            st.altair_chart(charts.top_k_bars(rows), key=f"top_{mid}", height=230)
            shown[mid] = guesses
    return shown


def surprisal_panel(models: dict[str, Model], reads: dict[str, Reading]) -> dict[str, np.ndarray]:
    """The typed text coloured by each model's surprise (bits) at every character."""
    st.subheader("How surprised was each model?")
    st.caption(
        "Each character coloured by −log₂ p(character | everything before it). Darker means the model "
        "did not see it coming. The first character stays blank: nothing came before it."
    )
    bits = {}
    for mid, model in models.items():
        bits[mid] = reads[mid].surprisal_bits()
        finite = bits[mid][np.isfinite(bits[mid])]
        mean = f"{finite.mean():.2f} bits per character" if finite.size else "type two characters or more"
        st.text(f"{display_name(model)}: {mean}")
        chart = charts.heat_strip(reads[mid].text, bits[mid], "bits", (0, 8))
        st.altair_chart(chart, key=f"surprise_{mid}", width="content")
    return bits


def unrolled_panel(models: dict[str, Model], reads: dict[str, Reading], steps: int = 8) -> dict[str, str]:
    """Each network drawn once per character over the end of the text, with its top guess at every step."""
    st.subheader("The networks, unrolled over your text")
    prose("recurrence")
    graphs = {}
    for mid, model in models.items():
        reading = reads[mid]
        start = max(0, len(reading.text) - steps)
        best = [top_k(p, 1)[0] for p in softmax(reading.logits[start:])]
        guesses = [(model.info.vocab.tokens[i], p) for i, p in best]
        recurrent = bool(model.state_names)
        graphs[mid] = charts.unrolled_graph(list(reading.text[start:]), guesses, recurrent, display_name(model))
        st.graphviz_chart(graphs[mid])
    return graphs


def generation_panel(models: dict[str, Model], text: str) -> dict[str, str]:
    """One to many: every model continues the text with the same temperature and seed."""
    st.subheader("Let each model write")
    prose("generation")
    left, middle, right = st.columns(3)
    temperature = left.slider("Temperature", 0.1, 2.0, 0.8, 0.1, key="temperature", bind="query-params")
    seed = middle.number_input("Seed", 0, 2**31 - 1, 0, key="seed", bind="query-params")
    length = right.slider("Characters to write", 20, 400, 200, 20, key="length", bind="query-params")
    written = {}
    for mid, model in models.items():
        try:
            written[mid] = sample(model, text, int(length), float(temperature), seed=int(seed))
        except UnrolledError as e:
            st.error(f"{display_name(model)} could not write: {e}")
            continue
        st.text(f"{display_name(model)} continues:")
        st.code(text[-80:] + written[mid], language=None, wrap_lines=True)
    return written
