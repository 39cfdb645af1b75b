"""Unrolled: watch a feed-forward net, a vanilla RNN and an LSTM guess the next character as you type.

streamlit run app.py
"""

from __future__ import annotations

import streamlit as st

from core.errors import UnrolledError
from core.models import models_dir
from core.text import MAX_CHARS, cap
from ui import panels

st.set_page_config(page_title="Unrolled: watch RNNs think", page_icon="🔁", layout="wide")


def load_or_stop():
    """The models that loaded; a message for each one that did not; a stop if none did."""
    models, problems = panels.shared_models(str(models_dir()))
    for mid, problem in problems.items():
        st.warning(f"Model `{mid}` is switched off: {problem}")
    if not models:
        st.error("No model could be loaded, so there is nothing to show. Retrain with `python -m export.train all`.")
        st.stop()
    return models


def typed_text() -> str:
    """The live text box (its value also lives in the URL, so a link reproduces the page), capped in Python."""
    raw = st.text_input(
        "Type here: every model guesses the next character",
        value="neuron",
        max_chars=MAX_CHARS,
        key="text",
        live=True,
        bind="query-params",
    )
    text, was_cut = cap(raw or "")
    if was_cut:
        st.info(f"Only the first {MAX_CHARS:,} characters are read; the rest is ignored.")
    return text


def unknown_note(models, text: str) -> None:
    unknown = sorted({ch for ch in text if not any(m.info.vocab.known(ch) for m in models.values())})
    if unknown:
        st.text("Not in the models' alphabet, read as the unknown token: " + " ".join(repr(ch) for ch in unknown))


@st.fragment
def live_section(models) -> None:
    """Reruns alone on every keystroke, leaving the rest of the page as it is."""
    text = typed_text()
    if not text:
        st.info("Type a character or more to see the predictions.")
        return
    unknown_note(models, text)
    try:
        reads = panels.readings(models, text)
    except UnrolledError as e:
        st.error(f"That text could not be read: {e}")
        return
    panels.predictions_panel(models, reads)
    panels.surprisal_panel(models, reads)
    panels.unrolled_panel(models, reads)


def predict_page() -> None:
    st.title("Unrolled: watch recurrent networks think")
    panels.prose("intro")
    models = load_or_stop()
    live_section(models)
    st.divider()
    text, _ = cap(st.session_state.get("text") or "")
    panels.generation_panel(models, text)


# Named pages (the sidebar would otherwise call this one "app", after the file).
st.navigation(
    [
        st.Page(predict_page, title="Predict as you type", icon=":material/keyboard:", default=True),
        st.Page("pages/1_Memory_lab.py", title="Memory lab", icon=":material/psychology:", url_path="Memory_lab"),
    ]
).run()
