"""The guessing game's page logic: one game per session and passage, each move applied once, and the
payload its component (ui/web/guess.js) draws. A guess travels to the server and back like a keystroke on
the main page: the server judges it (the answer never reaches the browser before it is revealed).

A page's game is a `Play`, kept in its session's state. The board's fragment (views/guess.py) applies the moves
that come as the component's state, and the game's socket (ui/guess_path.py) the ones that come over it, without
a script run: both through `turn`, one at a time under the play's lock."""

from __future__ import annotations

import functools
import random
import threading
import weakref
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import InputError
from core.guess import GAVE_UP, MAX_WRONG, Game, ModelPlay, Passages, distribution, load_passages, model_play, score
from core.models import models_dir
from core.text import normalize, visible
from ui import panels, room, session
from ui.assets import script, styles
from ui.i18n import DEFAULT, lang, strings, t
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
    models, _ = panels.shared_models(folder)
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


class Play:
    """One page's game: what its board's runs and its socket both change, one at a time under `lock`. Kept in the
    session's state (session_play); the socket finds it in PLAYS by the page's token, and it goes with the
    session."""

    def __init__(self, token: str):
        self.lock = threading.Lock()
        self.token = token
        self.game: Game | None = None
        self.key: tuple | None = None  # ("alone", seed) or (room code, passage, player)
        self.seed = 0  # the passage's seed playing alone, the room's passage number in a room
        self.seat: room.Seat | None = None  # the room as the board's last run found it; None playing alone
        self.seq = 0  # the last move applied: an older one (replayed, or sent both ways) is not applied again
        self.lang = DEFAULT  # the page's language as its last run had it
        self.left: str | None = None  # a room the socket found closed: the page's next run plays alone
        self.drawn: tuple | None = None  # what the page around the board shows (views/guess.py)

    @property
    def ready(self) -> bool:
        """Whether moves may come over the socket: there is a game, and in a room the page has said who it is (a
        move applied before then would be the game of no one, and the page's next run would start it again)."""
        seat = self.seat
        return self.game is not None and (seat is None or seat.teacher or seat.said)


PLAYS: weakref.WeakValueDictionary[str, Play] = weakref.WeakValueDictionary()  # page token -> its game


def session_play() -> Play:
    """This session's Play, made on its first run and findable by the socket from then on."""
    play = st.session_state.get("guess_play")
    if play is None:
        token = session.page_token()
        play = st.session_state["guess_play"] = Play(token)
        PLAYS[token] = play
    play.lang = lang()
    return play


def current_game(play: Play, passages: Passages, seed: int) -> Game:
    """The game playing alone on passage `seed` (a new one when the seed changes). The caller holds play.lock."""
    if play.game is None or play.key != ("alone", seed):
        play.game, play.key = Game(passages.texts[seed % len(passages.texts)]), ("alone", seed)
    play.seed = seed
    return play.game


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


def turn(
    play: Play, action: dict | None, models: dict, passages: Passages, seat: room.Seat | None
) -> tuple[Board, bool]:
    """Apply `action` once to the play's game and, in a room, record the character it revealed: the board that
    results, and whether the room was found closed (the page then plays alone). The caller holds play.lock."""
    game, seed = play.game, play.seed
    alphabet = set().union(*(set(m.info.vocab.index) for m in models.values()))
    wrong, position = list(game.wrong), game.position
    message = apply(game, action, alphabet)
    left = False
    if seat is not None and game.position > position:  # a character was revealed: the class keeps it
        said, left = room.record(seat, game, wrong, seed)
        message = " ".join(filter(None, [message, said]))
    folder = str(models_dir())
    plays = {mid: model_plays(folder, mid, game.text) for mid in models}
    names = {mid: panels.display_name(m) for mid, m in models.items()}
    code = seat.room.code if seat is not None and not left else None
    data = payload(game, plays, names, seed, passages, message, play.seq, code)
    if code is not None:
        data = room.with_class(data, seat, game, seed)
        # the room has moved on: once this passage is done, "New passage" takes the room's next one
        data["can_new"] = game.done and room.moved_on(seat, seed)
    return data, left


def drawn_around(seat: room.Seat | None, game: Game) -> tuple | None:
    """What the page around the board shows of the room (views/guess.py): when it changes, the whole page runs
    again."""
    return (seat.room.code, seat.player, seat.teacher, game.done) if seat is not None else None


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
