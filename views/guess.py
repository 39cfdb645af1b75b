"""Guess the next character: Shannon's guessing game against the feed-forward net, the RNN and the LSTM."""

from __future__ import annotations

import random

import streamlit as st

from core.errors import UnrolledError
from core.models import models_dir
from ui import guess, panels
from ui.i18n import t


@st.fragment
def board(models, passages) -> dict:
    """Reruns alone on every guess: one action applied, one payload."""
    seed = guess.seed_from_url()
    state = st.session_state.get("guess_board") or {}
    action = None
    if state.get("new"):
        seed = random.randrange(10**6)
        st.query_params["seed"] = str(seed)
    elif state.get("show"):
        action = {"show": True}
    request = state.get("typed")
    seq = request.get("seq", 0) if isinstance(request, dict) else 0
    if isinstance(request, dict) and isinstance(seq, int) and seq > st.session_state.get("guess_seq", 0):
        action = {"guess": request.get("guess")}
        st.session_state["guess_seq"] = seq
    game = guess.current_game(passages, seed)
    alphabet = set().union(*(set(m.info.vocab.index) for m in models.values()))
    message = guess.apply(game, action, alphabet)
    folder = str(models_dir())
    plays = {mid: guess.model_plays(folder, mid, game.text) for mid in models}
    names = {mid: panels.display_name(m) for mid, m in models.items()}
    data = guess.payload(game, plays, names, seed, passages, message, st.session_state.get("guess_seq", 0))
    guess.guess_component(
        key="guess_board",
        data=data,
        on_typed_change=lambda: None,
        on_show_change=lambda: None,
        on_new_change=lambda: None,
    )
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
    board(models, passages)
    panels.prose("guess_scoring")


main()
