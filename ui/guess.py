"""The guessing game's page logic: one game per session and passage, each action applied once, and the
payload its component (ui/web/guess.js) draws. A guess travels to the server and back like a keystroke on
the main page: the server judges it (the answer never reaches the browser before it is revealed)."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import InputError
from core.guess import GAVE_UP, MAX_WRONG, Game, ModelPlay, Passages, distribution, load_passages, model_play, score
from core.text import normalize, visible
from ui.assets import script, styles
from ui.i18n import strings, t
from ui.protocol import Board

SCORES_AND_CHART = (  # what ui/web/distribution.js draws, for the board and the projector view alike
    "guess.col_player",
    "guess.col_gpc",
    "guess.col_lower",
    "guess.col_upper",
    "guess.col_xent",
    "guess.chart_aria",
    "guess.chart_first",
    "guess.chart_bar",
    "guess.chart_axis",
    "guess.gave_up",
)
GUESS_STRINGS = (  # drawn by ui/web/guess.js; {placeholders} are filled in there
    "guess.show",
    "guess.new",
    "guess.hint",
    "guess.title_line",
    "guess.title_room",
    "guess.finished",
    "guess.tried",
    "guess.passage_aria",
    "guess.ranks_caption",
    "guess.scores_caption",
    *SCORES_AND_CHART,
)

guess_component = st.components.v2.component(
    "unrolled_guess",
    js=script("distribution.js", "guess.js"),
    css=styles("live.css", "guess.css"),
)


@st.cache_resource(show_spinner=False)
def shared_passages(folder: str) -> Passages:
    return load_passages(Path(folder))


# Not st.cache_data: every guess's run asks for each model's play, and st.cache_data hashes its arguments through
# an inspect.signature per argument and unpickles a copy on every call (about 0.2 ms a run for three models, against
# about 1 us here). The same play is shared, so its arrays are made read-only.
@functools.lru_cache(maxsize=256)
def model_plays(folder: str, model_id: str, text: str) -> ModelPlay:
    """A model's guess counts and surprisal on a passage: the same for every player, so computed once."""
    from ui.panels import shared_models

    models, _ = shared_models(folder)
    play = model_play(models[model_id], text)
    for array in (play.counts, play.bits):
        array.flags.writeable = False
    return play


def seed_from_url() -> int:
    """The passage's seed from the URL (so a class can share one passage), or a new random one put there."""
    raw = st.query_params.get("seed")
    try:
        seed = int(raw)
        if seed < 0:
            raise ValueError
    except (TypeError, ValueError):
        seed = random.randrange(10**6)
        st.query_params["seed"] = str(seed)
    return seed


def current_game(passages: Passages, seed: int) -> Game:
    game = st.session_state.get("game")
    if game is None or st.session_state.get("game_key") != ("alone", seed):
        game = st.session_state["game"] = Game(passages.texts[seed % len(passages.texts)])
        st.session_state["game_key"] = ("alone", seed)
    return game


def apply(game: Game, action: dict | None, alphabet: set[str]) -> str:
    """Apply the player's action once; what to tell them."""
    if not action:
        return ""
    if action.get("show"):
        if game.done:
            return t("guess.msg_finished")
        ch = game.text[game.position]
        game.show()
        return t("guess.msg_shown", ch=visible(ch), n=GAVE_UP)
    raw = action.get("guess")
    if not isinstance(raw, str) or raw == "":
        return t("guess.msg_empty")
    guess = normalize(raw)
    if len(guess) != 1:
        return t("guess.msg_several", n=len(guess))
    if guess not in alphabet:
        return t("guess.msg_alphabet", ch=visible(guess))
    if game.done:
        return t("guess.msg_finished")
    ch = game.text[game.position]
    try:
        outcome = game.guess(guess)
    except InputError as e:
        return str(e)
    if outcome == "right":
        n = game.counts[-1]
        return t("guess.msg_right_one" if n == 1 else "guess.msg_right", ch=visible(ch), n=n)
    if outcome == "revealed":
        return t("guess.msg_revealed", wrong=MAX_WRONG, ch=visible(ch), n=GAVE_UP)
    if outcome == "again":
        return t("guess.msg_again", ch=visible(guess))
    return t("guess.msg_wrong", ch=visible(guess), n=len(game.wrong))


def payload(
    game: Game,
    plays: dict[str, ModelPlay],
    names: dict[str, str],
    seed: int,
    passages: Passages,
    message: str,
    seq: int,
    room: str | None = None,
    remember: dict | None = None,
) -> Board:
    """What the board draws. Models are scored on the characters revealed so far, like the player."""
    n = game.position
    revealed = game.text[:n]
    rows = [(t("guess.you"), game.counts, None)]
    rows += [(names[mid], play.counts[:n].tolist(), play.bits[:n]) for mid, play in plays.items()]
    scores = []
    for name, counts, bits in rows:
        s = score(counts)
        scores.append(
            {
                "name": name,
                "guesses_per_char": None if s is None else s.guesses_per_char,
                "lower": None if s is None else s.lower,
                "upper": None if s is None else s.upper,
                # a person has no cross-entropy: only the models give probabilities
                "bits": float(np.mean(bits)) if bits is not None and n else None,
            }
        )
    return {
        "seq": seq,
        "seed": seed,
        "number": seed % len(passages.texts) + 1,
        "of": len(passages.texts),
        "play": t(f"play.{passages.plays[seed % len(passages.texts)]}"),
        "label": t("guess.label"),
        "strings": strings(*GUESS_STRINGS),
        "shown": revealed,
        "length": len(game.text),
        "wrong": [visible(ch) for ch in game.wrong],
        "max_wrong": MAX_WRONG,
        "done": game.done,
        "message": message,
        "players": [name for name, _, _ in rows],
        # one entry per revealed character: how it is drawn, and how many guesses each player took (by player)
        "record": [
            {"ch": visible(ch), "counts": [counts[i] for _, counts, _ in rows]} for i, ch in enumerate(revealed)
        ],
        "scores": scores,
        "dists": [np.round(distribution(counts), 4).tolist() for _, counts, _ in rows],
        "room": room,
        "can_new": room is None,
        "remember": remember,
    }
