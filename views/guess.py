"""Guess the next character: Shannon's guessing game against the feed-forward net, the RNN and the LSTM."""

from __future__ import annotations

import random

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.errors import UnrolledError
from core.models import models_dir
from ui import guess, panels, room
from ui.i18n import t


@st.fragment
def board(models, passages) -> dict:
    """Reruns alone on every guess: one action applied, one payload. In a class room (ui/room.py) the passage is
    the room's, and each character revealed is recorded as the server judged it."""
    seat = room.seat()
    state = st.session_state.get("guess_board") or {}
    action = None
    if seat is None:
        seed = guess.seed_from_url()
        if state.get("new"):
            seed = random.randrange(10**6)
            st.query_params["seed"] = str(seed)
        game = guess.current_game(passages, seed)
    else:
        game, seed = room.game_for(seat, passages, fresh=bool(state.get("new")))
    if state.get("show"):
        action = {"show": True}
    request = state.get("typed")
    seq = request.get("seq", 0) if isinstance(request, dict) else 0
    if isinstance(request, dict) and isinstance(seq, int) and seq > st.session_state.get("guess_seq", 0):
        action = {"guess": request.get("guess")}
        st.session_state["guess_seq"] = seq
    alphabet = set().union(*(set(m.info.vocab.index) for m in models.values()))
    wrong, position = list(game.wrong), game.position
    message = guess.apply(game, action, alphabet)
    if seat is not None and game.position > position:  # a character was revealed: the class keeps it
        message = " ".join(filter(None, [message, room.record(seat, game, wrong, seed)]))
    folder = str(models_dir())
    plays = {mid: guess.model_plays(folder, mid, game.text) for mid in models}
    names = {mid: panels.display_name(m) for mid, m in models.items()}
    code = seat.room.code if seat else None
    remember = st.session_state.pop("room_remember", None)
    data = guess.payload(
        game, plays, names, seed, passages, message, st.session_state.get("guess_seq", 0), code, remember
    )
    if seat is not None:
        data = room.with_class(data, seat, game, seed)
        # the room has moved on: once this passage is done, "New passage" takes the room's next one
        data["can_new"] = game.done and room.moved_on(seat, seed)
    guess.guess_component(
        key="guess_board",
        data=data,
        on_typed_change=lambda: None,
        on_who_change=lambda: None,
        on_show_change=lambda: None,
        on_new_change=lambda: None,
    )
    # The page around the board (the room's panel, the class's figures) is drawn by full runs. A guess reruns the
    # board alone, unless what the page around it shows has changed: the page has first said who it is, the
    # passage has ended, or the room has been left (closed, full, gone).
    drawn = (seat.room.code, seat.player, seat.teacher, game.done) if seat else None
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run and st.session_state.get("room_drawn") != drawn:
        st.session_state["room_drawn"] = drawn
        st.rerun()
    st.session_state["room_drawn"] = drawn
    return data


def main() -> None:
    st.set_page_config(page_title=t("guess.tab"), page_icon="🔁", layout="wide")
    st.title(t("nav.guess"))
    panels.prose("guess")
    models, problems = panels.shared_models(str(models_dir()))
    panels.show_problems(problems)
    try:
        passages = guess.shared_passages(str(models_dir()))
    except UnrolledError as e:
        st.error(t("guess.no_passages", problem=e))
        st.stop()
    if not models:
        st.error(t("error.no_models"))
        st.stop()
    here = room.seat()
    passage = here.room.passage if here else guess.seed_from_url() % len(passages.texts)
    room.panel(here, passage, passages)
    board(models, passages)
    if here is not None:
        room.results(here, models, passages)
    panels.prose("guess_scoring")


main()
