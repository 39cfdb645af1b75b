"""Unrolled's pages: the main page (live predictions and generation) and the navigation to the others.

Served by app.py (`streamlit run app.py`), which adds the live component's fast path beside these pages.
"""

from __future__ import annotations

import streamlit as st

from core.checks import PAGE_SEED_MAX
from core.errors import UnrolledError
from core.models import models_dir
from core.predict import sample
from core.text import cap
from core.train.backend import REGISTRY as TRAINED
from ui import i18n, live, panels, session
from ui.i18n import t

st.set_page_config(page_title="Unrolled: watch RNNs think", page_icon="🔁", layout="wide")

DEFAULT_TEXT = "neuron"


def load_or_stop():
    """The models that loaded; a message for each one that did not; a stop if none did."""
    models, problems = panels.shared_models(str(models_dir()))
    panels.show_problems(problems)
    if not models:
        st.error(t("error.no_models"))
        st.stop()
    return models


def typed() -> tuple[str, bool, int, str | None]:
    """What the box holds (capped in Python: the browser's limit is advisory), whether it was cut, the number
    of the request it came with, and which static parts the page already holds. Before the first keystroke
    the text comes from the URL, so a link reproduces the page."""
    request = (st.session_state.get("live") or {}).get("typed")
    if isinstance(request, dict) and isinstance(request.get("text"), str):
        raw, seq, has = request["text"], request.get("seq"), request.get("has")
    else:
        raw, seq, has = st.query_params.get("text", DEFAULT_TEXT), 0, None
    text, was_cut = cap(raw)
    return text, was_cut, seq if isinstance(seq, int) else 0, has if isinstance(has, str) else None


@st.fragment
def live_section(models) -> dict:
    """Reruns alone on every request from the live component: one model step per model and one payload."""
    text, was_cut, seq, has = typed()
    names = {mid: panels.display_name(m) for mid, m in models.items()}
    token = session.page_token()
    try:
        reads = panels.readings(models, text) if text else {}
        data = live.payload(models, names, reads, text, seq, was_cut, has, token)
    except UnrolledError as e:
        data = {**live.payload(models, names, {}, "", seq, was_cut, has, token), "text": text, "problem": str(e)}
    live.live_component(key="live", data=data, on_typed_change=lambda: None)
    st.session_state["live_text"] = text
    if st.query_params.get("text") != text:
        st.query_params["text"] = text
    return data


@st.cache_data(max_entries=512, show_spinner=False)
def continuation(folder: str, model_id: str, text: str, length: int, temperature: float, seed: int) -> str:
    """A model's seeded continuation, shared by every session: a class opening the page asks for the same one."""
    models, _ = panels.shared_models(folder)
    return sample(models[model_id], text, length, temperature, seed=seed)


@st.fragment
def generation_section(models) -> dict[str, str]:
    """One to many: every model continues the text with the same temperature and seed. Runs when typing
    pauses (the writer component asks) or a setting changes, never on a keystroke."""
    st.subheader(t("gen.title"))
    panels.prose("generation")
    left, middle, right = st.columns(3)
    temperature = left.slider(t("gen.temperature"), 0.1, 2.0, 0.8, 0.1, key="temperature", bind="query-params")
    seed = middle.number_input(t("gen.seed"), 0, PAGE_SEED_MAX, 0, key="seed", bind="query-params")
    length = right.slider(t("gen.length"), 20, 400, 200, 20, key="length", bind="query-params")
    asked = (st.session_state.get("writer") or {}).get("write")
    text = cap(asked)[0] if isinstance(asked, str) else st.session_state.get("live_text", "")
    if isinstance(asked, str) and st.query_params.get("text") != text:
        # Keystrokes on the fast path (ui/fast.py) run no script, so the URL's ?text= follows the box here,
        # when typing pauses and the writer asks for this text's continuations.
        st.query_params["text"] = text
    settings = (text, float(temperature), int(seed), int(length))
    done = st.session_state.get("written")
    if done is None or done[0] != settings:
        written = {}
        for mid, model in models.items():
            try:
                if model.info.trained_here:  # this session's own: nothing to share
                    written[mid] = sample(model, text, int(length), float(temperature), seed=int(seed))
                else:
                    written[mid] = continuation(
                        str(models_dir()), mid, text, int(length), float(temperature), int(seed)
                    )
            except UnrolledError as e:
                st.error(t("gen.failed", name=panels.display_name(model), problem=e))
        done = st.session_state["written"] = (settings, written)
    names = {mid: panels.display_name(m) for mid, m in models.items()}
    data = live.writer_payload(text, done[1], names)
    live.writer_component(key="writer", data=data, on_write_change=lambda: None)
    return done[1]


def predict_page() -> None:
    st.set_page_config(page_title=t("main.tab"))
    st.title(t("main.title"))
    panels.prose("intro")
    models = load_or_stop()
    trained = TRAINED.get(session.page_token())
    if trained:
        names = ", ".join(panels.display_name(m) for m in trained.values())
        st.info(t("main.trained_note", names=names), icon=":material/model_training:")
        models = models | trained
    live_section(models)
    panels.prose("recurrence")
    st.divider()
    with st.container(key="generation"):
        generation_section(models)


i18n.language_switch()
# Named pages (the sidebar would otherwise call this one "app", after the file). The other pages live in views/,
# not pages/: Streamlit runs a pages/ folder's scripts on their own, without this navigation, when a fresh
# server's first visitor follows a deep link such as /Memory_lab.
st.navigation(
    [
        st.Page(predict_page, title=t("nav.predict"), icon=":material/keyboard:", default=True),
        st.Page("views/memory_lab.py", title=t("nav.lab"), icon=":material/psychology:", url_path="Memory_lab"),
        st.Page("views/guess.py", title=t("nav.guess"), icon=":material/quiz:", url_path="Guess"),
        st.Page("views/train.py", title=t("nav.train"), icon=":material/model_training:", url_path="Train"),
        # a class room's view for the wall, opened from the teacher's panel on the Guess page
        st.Page("views/projector.py", title=t("proj.tab"), url_path="Projector", visibility="hidden"),
    ]
).run()
