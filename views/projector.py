"""A class room's projector view (URL path Projector?room=CODE): the join code, the students' link and its QR code,
and the class's figures growing beside the models', for the teacher to put on the wall. It needs the room's
teacher key, which the page takes from the browser that opened the room (or the URL's fragment) and never shows."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.errors import UnrolledError
from core.models import models_dir
from store.errors import RoomError, StoreError
from ui import guess, i18n, panels, room
from ui import projector as view
from ui.assets import script, styles
from ui.i18n import t

PROJECTOR_STRINGS = (
    "proj.join",
    "proj.players",
    "proj.as_of",
    "proj.stale",
    "proj.no_link",
    "proj.qr_alt",
    "proj.figures_caption",
    "proj.strip_caption",
    "proj.strip_alt",
    "proj.cell",
    "proj.progress_caption",
    *guess.SCORES_AND_CHART,
)

component = st.components.v2.component(
    "unrolled_projector", js=script("distribution.js", "projector.js"), css=styles("projector.css")
)


def link_for(code: str) -> str:
    """The students' link: the address the teacher typed on the Guess page (the panel's link to this view
    carries it as ?address=), else the one this browser used, unless phones cannot reach that one."""
    typed = room.typed_base(st.query_params.get("address") or "")
    return room.join_link(code, typed or room.page_base() or "")


@st.fragment(run_every=view.REFRESH)
def live(code: str, passages) -> None:
    """Every REFRESH seconds: a look at the room's version in the store, and the summary rebuilt only if it
    moved (ui/projector.py)."""
    s = room.store()
    sent = (st.session_state.get("projector") or {}).get("key")
    problem, summary = None, None
    if s is None:
        problem = t("room.store_down", problem=room.store_problem() or "?")
    else:
        try:
            if sent and st.session_state.get("projector_key") != sent and s.is_teacher(code, sent):
                st.session_state["projector_key"] = sent
            if st.session_state.get("projector_key") is None:
                problem = t("proj.needs_key")
            else:
                models, _ = panels.shared_models(str(models_dir()))
                room_now = s.room(code)
                if room_now is None:
                    problem = t("room.unknown", code=code)
                else:
                    text = passages.texts[room_now.passage % len(passages.texts)]
                    plays = {mid: guess.model_plays(str(models_dir()), mid, text) for mid in models}
                    names = {mid: panels.display_name(m) for mid, m in models.items()}
                    summary = view.summary(s, room_now, passages, plays, names)
        except (StoreError, RoomError) as e:
            problem = t("room.store_down", problem=str(e))
    link = link_for(code)
    host = urlsplit(link).hostname or ""
    data = {
        "code": code,
        "link": link if not room.is_local(host) else "",
        "qr": view.qr_matrix(link) if link and not room.is_local(host) else [],
        "summary": summary,
        "problem": problem,
        "tick": time.time(),
        "stale": view.STALE,
        "lang": i18n.lang(),
        "strings": i18n.strings(*PROJECTOR_STRINGS),
    }
    component(key="projector", data=data, on_key_change=lambda: None)
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run and st.session_state.get("projector_drawn") != bool(summary):
        st.session_state["projector_drawn"] = bool(summary)
        st.rerun()  # the teacher's controls appear once the key is known
    st.session_state["projector_drawn"] = bool(summary)


def controls(code: str, passages) -> None:
    key, s = st.session_state.get("projector_key"), room.store()
    if key is None or s is None:
        return
    current = s.room(code)
    if current is None:
        return
    close, after, download = st.columns([1, 1, 2])
    if close.button(t("room.close"), disabled=current.closed, key="proj_close"):
        s.close(code, key)
        room.forget_room(code)
        st.rerun()
    if after.button(t("proj.next"), disabled=current.closed, key="proj_next"):
        s.set_passage(code, key, (current.passage + 1) % len(passages.texts))
        room.forget_room(code)
        st.rerun()
    with download:
        room.downloads(room.Seat(current, None, key), passages)


def main() -> None:
    st.set_page_config(page_title=t("proj.tab"), page_icon="🔁", layout="wide", initial_sidebar_state="collapsed")
    code = room.requested()
    if code is None:
        st.title(t("proj.title"))
        st.info(t("proj.no_room"))
        return
    try:
        passages = guess.shared_passages(str(models_dir()))
    except UnrolledError as e:
        st.error(t("guess.no_passages", problem=e))
        return
    live(code, passages)
    controls(code, passages)


main()
