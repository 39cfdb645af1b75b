"""Memory lab: how far back each model remembers, measured, and the mechanism that decides it."""

from __future__ import annotations

import streamlit as st

from core.errors import UnrolledError
from core.models import models_dir
from ui import lab, panels

st.set_page_config(page_title="Unrolled: memory lab", page_icon="🔁", layout="wide")


def main() -> None:
    st.title("Memory lab")
    panels.prose("lab_intro")
    text_models, problems = panels.shared_models(str(models_dir()))
    recall_models, recall_problems = panels.shared_models(str(models_dir()), task="recall")
    for mid, problem in {**problems, **recall_problems}.items():
        st.warning(f"Model `{mid}` is switched off: {problem}")
    lab.recall_panel(recall_models)
    st.divider()
    text = lab.lab_text()
    if not text:
        st.info("Type a character or more to analyse.")
        st.stop()
    try:
        mems = lab.memories(text_models, text)
    except UnrolledError as e:
        st.error(f"That text could not be analysed: {e}")
        st.stop()
    if not mems:
        st.info("None of the installed models ships an analysis cell; retrain with `python -m export.train all`.")
        st.stop()
    lab.influence_panel(text_models, mems)
    st.divider()
    lab.gradients_panel(text_models, mems)
    lstm = next((mid for mid in mems if text_models[mid].info.arch == "lstm"), None)
    if lstm:
        st.divider()
        lab.lstm_panel(text_models[lstm], mems[lstm])


main()
