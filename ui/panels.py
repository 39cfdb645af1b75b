"""What the app's pages share: the models (loaded once per server), prose, names, and each user's readings.

Anything that holds user text goes through st.text, st.code, chart data or a component's textContent;
never st.markdown.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.contract import ARCHS, LanguageModel, display_rank
from core.errors import UnrolledError
from core.models import Model, load_models
from core.predict import Reading, read
from ui import i18n


@st.cache_resource(show_spinner="Loading models…")
def shared_models(folder: str, task: str = "text") -> tuple[dict[str, Model], dict[str, str]]:
    """One InferenceSession per model for every user (sessions are thread-safe); problems by model id."""
    try:
        models, problems = load_models(Path(folder), task=task)
    except UnrolledError as e:
        return {}, {"manifest": str(e)}
    models = dict(sorted(models.items(), key=lambda item: display_rank(item[1].info.arch)))
    return models, problems


def show_problems(problems: dict[str, str]) -> None:
    """What could not be loaded: one error for an unreadable manifest, a warning per switched-off model."""
    for mid, problem in problems.items():
        if mid == "manifest":
            st.error(i18n.t("error.manifest", problem=problem))
        else:
            st.warning(i18n.t("warn.model_off", model=mid, problem=problem))


def prose(name: str) -> None:
    st.markdown(i18n.prose(name))


def display_name(model: LanguageModel) -> str:
    name = i18n.t(f"arch.{model.info.arch}") if model.info.arch in ARCHS else model.info.arch
    return i18n.t("train.yours", name=name) if model.info.trained_here else name


def go_to_main_page() -> None:
    """st.switch_page finds a page by the hash of its URL path, and the main page's (unrolled.py) is its
    function's name."""
    st.switch_page(st.Page(lambda: None, url_path="predict_page"))


def readings(models: dict[str, LanguageModel], text: str) -> dict[str, Reading]:
    """Each model's reading of `text`, reusing this user's previous reading when the text only grew."""
    previous = st.session_state.get("readings", {})
    current = {mid: read(model, text, previous.get(mid)) for mid, model in models.items()}
    st.session_state["readings"] = current
    return current
