"""Memory lab: how far back each model remembers, measured, and the mechanism that decides it."""

from __future__ import annotations

import streamlit as st

from core.errors import UnrolledError
from core.models import models_dir
from ui import lab, panels
from ui.i18n import t


def main() -> None:
    st.set_page_config(page_title=t("lab.tab"), page_icon="🔁", layout="wide")
    st.title(t("nav.lab"))
    panels.prose("lab_intro")
    text_models, problems = panels.shared_models(str(models_dir()))
    recall_models, recall_problems = panels.shared_models(str(models_dir()), task="recall")
    panels.show_problems({**problems, **recall_problems})
    lab.recall_panel(recall_models)
    st.divider()
    text = lab.lab_text()
    if not text:
        st.info(t("lab.type_prompt"))
        st.stop()
    try:
        mems = lab.memories(text_models, text)
    except UnrolledError as e:
        st.error(t("lab.unanalysable", problem=e))
        st.stop()
    for mid, model in text_models.items():
        if model.cell is None and model.info.cell_path is not None:  # it ships a cell, but the cell is broken
            st.warning(t("lab.no_analysis", model=mid, problem=model.cell_problem))
    if not mems:
        st.info(t("lab.no_cells"))
        st.stop()
    lab.influence_panel(text_models, mems)
    st.divider()
    lab.gradients_panel(text_models, mems)
    lstm = next((mid for mid in mems if text_models[mid].info.arch == "lstm"), None)
    if lstm:
        st.divider()
        lab.lstm_panel(text_models[lstm], mems[lstm])


main()
