"""Guess the next character: Shannon's guessing game against the feed-forward net, the RNN and the LSTM."""

from __future__ import annotations

import random

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.errors import UnrolledError
from core.models import models_dir
from ui import guess, panels, room
from ui.i18n import t
from ui.protocol import GUESS_ROUTE


@st.fragment
def board(models, passages) -> dict:
    """Reruns alone on every move that comes as the board's state (before the game's socket is open, or where it
    cannot open): one move applied, one payload. In a class room (ui/room.py) the passage is the room's, and each
    character revealed is recorded as the server judged it. The moves that come over the socket
    (ui/guess_path.py) change the same game, under the same lock."""
    play = guess.session_play()
    seat = room.seat()
    state = st.session_state.get("guess_board") or {}
    request = state.get("typed")
    seq = request.get("seq", 0) if isinstance(request, dict) else 0
    with play.lock:
        if seat is None:
            seed = guess.seed_from_url()
            if state.get("new"):
                seed = random.randrange(10**6)
                st.query_params["seed"] = str(seed)
            guess.current_game(play, passages, seed)
        else:
            room.game_for(play, seat, passages, fresh=bool(state.get("new")))
        action = {"show": True} if state.get("show") else None
        if isinstance(request, dict) and isinstance(seq, int) and not isinstance(seq, bool) and seq > play.seq:
            action = {"show": True} if request.get("show") is True else {"guess": request.get("guess")}
            play.seq = seq
        data, left = guess.turn(play, action, models, passages, seat)
        game = play.game
        if left:
            room.leave(seat.room.code)
            seat = None
        play.seat = seat
    if play.ready:  # the page opens its socket once it may send moves over it
        data["link"] = {"route": GUESS_ROUTE.lstrip("/"), "token": play.token}
    data["remember"] = st.session_state.pop("room_remember", None)
    if seat is not None and not seat.said:
        data["offer"] = seat.player  # the id a page with none takes (ui.room.offer)
    guess.guess_component(
        key="guess_board",
        data=data,
        on_typed_change=lambda: None,
        on_who_change=lambda: None,
        on_synced_change=lambda: None,
        on_show_change=lambda: None,
        on_new_change=lambda: None,
    )
    # The page around the board (the room's panel, the class's figures) is drawn by full runs. A move reruns the
    # board alone (or goes over the socket, with no run at all), unless what the page around it shows has changed:
    # the page has first said who it is, the passage has ended, or the room has been left (closed, full, gone).
    # The socket tells the page when (its frame's `rerun`), and the page then asks for this fragment's run.
    drawn = guess.drawn_around(seat, game)
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run and play.drawn != drawn:
        play.drawn = drawn
        st.rerun()
    play.drawn = drawn
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
