"""The main page's protocol: what the live component asks, what the server answers, and the constants both
sides draw with. The one place the Python and JS sides agree; `constants()` travels with the static parts, so
ui/web/live.js spells none of these numbers itself.

A request (the component's state on the rerun path, one message on the fast path, ui/fast.py):

    {"text": str, "seq": int, "has": str | null}

    text  what the box holds; normalised and cut to MAX_CHARS by the server, like any typed text
    seq   the request's number, echoed in its reply, so the page knows which text a reply answers
    has   the static key the page already holds (static parts are sent only when it differs)

A reply (`Reply`; on the fast path as a frame {"type": "reply", ...}, or {"type": "error", "problem", "seq"}):

    seq, text, cut, unknown       the request it answers, the text read, whether it was cut, unknown characters
    views: {model id: View}       one per model, keyed by id (static.models gives the display order)
    problem                       when the text could not be read (the page words it, in its language)
    static_key, static            only on the rerun path: cards, words and these constants

Columns are sent as parallel lists under names ({"ids": [...], "p": [...]}), never as positional tuples.
"""

from dataclasses import dataclass
from typing import NotRequired, TypedDict

from core.text import MAX_CHARS

TOP_K = 5  # guesses drawn per model, and per possible next key in the lookahead
# The lookahead covers the 16 characters the models together find likeliest next, not the whole vocabulary
# (85): the models' part of a reply falls from about 2 ms to about 0.6 ms, and 96% of the keys in held-out
# Shakespeare and in modern English prose are still drawn before the server answers (93% with 12 rows, 99%
# with 32). A key outside them waits for the server's reply: one round trip on the fast path.
AHEAD_ROWS = 16
UNROLLED_STEPS = 8  # characters drawn in each unrolled network
MAX_BITS = 8.0  # the top of the surprisal colour scale (bits); more is drawn as the darkest colour
LIGHT_TEXT_ABOVE = 0.65  # on the darkest 35% of the surprisal scale a cell's text is white (4.5:1 contrast)
STRIP_ROW = 40  # characters per row of a surprisal strip, here and in the memory lab's heat strip
FAST_ROUTE = "/api/live"  # the fast path's WebSocket (ui/fast.py), under server.baseUrlPath
GUESS_ROUTE = "/api/guess"  # the guessing game's WebSocket (ui/guess_path.py), under server.baseUrlPath
SEQ_MAX = 2**53 - 1  # the largest integer a JavaScript number holds exactly


class Guesses(TypedDict):
    ids: list[int]  # token ids, most likely first
    p: list[float]  # their probabilities


class Lookahead(TypedDict):
    keys: list[int]  # (R,): the token ids the rows are for: the AHEAD_ROWS likeliest next characters
    bits: list[float]  # (R,) -log2 p(keys[r] | text): the surprisal of key r, should it come next
    ids: list[list[int]]  # (R, TOP_K): the top guesses after the text plus token keys[r]
    p: list[list[float]]


class Steps(TypedDict):
    chars: list[str]  # the last UNROLLED_STEPS characters read
    guess: list[int]  # the top guess after each
    p: list[float]  # its probability


class View(TypedDict):
    top: Guesses
    ahead: Lookahead
    bits: list[float | None]  # (T,) surprisal of each typed character; null for the first
    steps: Steps


class Constants(TypedDict):
    top_k: int  # TOP_K
    unrolled_steps: int  # UNROLLED_STEPS
    max_bits: float  # MAX_BITS
    light_text_above: float  # LIGHT_TEXT_ABOVE
    strip_row: int  # STRIP_ROW
    max_chars: int  # core.text.MAX_CHARS
    fast_route: str  # FAST_ROUTE, relative to the page's base path


class Card(TypedDict):
    id: str
    name: str  # display name, in the page's language
    arch: str
    hidden_size: int
    recurrent: bool  # whether the unrolled network is drawn with arrows from step to step
    vocab: list[str]  # token strings by id: the page maps a typed key to its lookahead row with it
    unk_id: int
    kind: str  # "LSTM · 256 units", in the page's language
    facts: str  # parameters, held-out loss, training time


class Static(TypedDict):
    label: str  # the text box's label
    strings: dict[str, str]  # ui.live.LIVE_STRINGS in the page's language, {placeholders} unfilled
    visible: dict[str, str]  # how whitespace is drawn (core.text.VISIBLE)
    protocol: Constants
    models: list[Card]  # in display order
    token: str  # this page's token for the fast path (ui.session.page_token); the socket's URL carries it


class Reply(TypedDict):
    seq: int
    text: str
    cut: bool
    unknown: list[str]
    views: dict[str, View]  # empty for an empty text
    problem: NotRequired[str]
    static_key: NotRequired[str]  # the rerun path only
    static: NotRequired[Static]  # the rerun path only, and only when the page lacks it


class ErrorFrame(TypedDict):
    """The fast path's answer to a message it cannot take (bad JSON, wrong types, too many messages)."""

    type: str  # "error"
    problem: str  # English, for the console: the page never shows it
    seq: int | None  # the request's number, when it could be read


# ---- the writer (continuations, ui/web/writer.js): server to page only; the page asks with a trigger
# {"write": text} once typing pauses.


class Written(TypedDict):
    name: str  # "LSTM continues", in the page's language
    text: str  # the continuation


WRITER_PAUSE_MS = 600  # the writer asks for continuations once typing has paused this long


class Writer(TypedDict):
    pause_ms: int  # WRITER_PAUSE_MS
    for_text: str  # the text continued: the page shows the continuations only while the box holds it
    prompt_tail: str  # the end of for_text, shown before each continuation
    cut_before: bool  # whether for_text is longer than prompt_tail
    written: list[Written]
    waiting: str  # shown while the box holds another text


# ---- the guessing game (ui/web/guess.js). A move is {"guess": one character, "seq": int} or {"show": true, "seq":
# int}: over the game's socket (ui/guess_path.py) once it is open, else as the board's state ("typed", with "show"
# and "new" as triggers), which reruns the board's fragment. The socket answers each message with a BoardFrame (or
# an ErrorFrame); a message with neither guess nor show asks for the board as it is.


class Score(TypedDict):
    name: str  # a player: "You" or a model's display name
    guesses_per_char: float | None  # None before anything is revealed
    lower: float | None  # Shannon's bounds on the entropy, bits per character
    upper: float | None
    bits: float | None  # a model's cross-entropy on what is revealed; None for a person


class Revealed(TypedDict):
    ch: str  # the character, as drawn
    counts: list[float]  # guesses each player took, in the order of `players` (the class: its mean)


class RoomKey(TypedDict):
    code: str
    key: str


class GuessLink(TypedDict):
    route: str  # GUESS_ROUTE, relative to the page's base path
    token: str  # this page's token (ui.session.page_token): the socket finds the page's game by it


class Board(TypedDict):
    seq: int  # the last guess judged
    seed: int  # the passage's seed (?seed= in the URL)
    number: int  # passage number, 1-based
    of: int  # passages in all
    play: str  # the play it is from, in the page's language
    label: str
    strings: dict[str, str]  # ui.guess.GUESS_STRINGS in the page's language
    shown: str  # the passage so far
    length: int  # characters in the passage
    wrong: list[str]  # wrong guesses at the current character, as drawn
    max_wrong: int
    done: bool
    message: str
    players: list[str]
    record: list[Revealed]
    scores: list[Score]  # in the order of `players`
    dists: list[list[float]]  # per player, the share of characters taken in 1, 2, ... guesses
    room: str | None  # the class room's code when the passage is a room's (ui/room.py); None playing alone
    can_new: bool  # whether "New passage" is offered: not in a room, whose passage is the room's
    remember: RoomKey | None  # a teacher key for the page to keep in localStorage, sent once when the room opens
    # where the page sends its moves without a rerun: in a script run's board, once the game can take them there (in a
    # room, after the page has said who it is)
    link: NotRequired[GuessLink]
    # in a room, until the page has said who it is: the player id a page with none takes (ui.room.offer)
    offer: NotRequired[str]


class BoardFrame(TypedDict):
    type: str  # "board"
    board: Board
    # the page around the board must be drawn again (the passage ended in a room, or the room was left): the page
    # asks for a run of the board's fragment ("synced" in its state), which reruns the whole page
    rerun: bool


@dataclass(frozen=True)
class Move:
    seq: int
    guess: str | None  # one character as typed (normalised and judged by the server)
    show: bool


def parse_move(value: object) -> Move:
    """A move checked field by field: an object with an integer `seq` in 0..SEQ_MAX, `guess` a short string or
    absent, `show` a boolean or absent."""
    if not isinstance(value, dict):
        raise BadRequest("a move is a JSON object")
    seq, guess, show = value.get("seq"), value.get("guess"), value.get("show", False)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= SEQ_MAX:
        raise BadRequest(f"seq must be an integer from 0 to {SEQ_MAX}")
    if guess is not None and (not isinstance(guess, str) or len(guess) > 64):
        raise BadRequest("guess must be a short string")
    if not isinstance(show, bool):
        raise BadRequest("show must be true or false")
    try:
        (guess or "").encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("guess holds a lone surrogate, which is not a character") from None
    return Move(seq, guess, show)


# The board's state from the page, beside {"guess", "seq"} as "typed": "who" = {"player": the random id the page
# keeps in localStorage, "keys": {room code: teacher key} the page holds}, sent once per room.


def constants() -> Constants:
    """What live.js draws with, sent once with the static parts."""
    return {
        "top_k": TOP_K,
        "unrolled_steps": UNROLLED_STEPS,
        "max_bits": MAX_BITS,
        "light_text_above": LIGHT_TEXT_ABOVE,
        "strip_row": STRIP_ROW,
        "max_chars": MAX_CHARS,
        "fast_route": FAST_ROUTE.lstrip("/"),
    }


class BadRequest(ValueError):
    """A request that does not follow the protocol; its message says what is wrong, for an error frame."""


@dataclass(frozen=True)
class Request:
    text: str
    seq: int
    has: str | None


def parse_request(value: object) -> Request:
    """A request checked field by field: an object with a string `text`, an integer `seq` in 0..SEQ_MAX and
    `has` a string or null. Text with a lone surrogate is refused (it cannot be sent back to a browser).
    The text is not cut here: the caller caps it, so the page can say it was cut."""
    if not isinstance(value, dict):
        raise BadRequest("a request is a JSON object")
    text, seq, has = value.get("text"), value.get("seq", 0), value.get("has")
    if not isinstance(text, str):
        raise BadRequest("text must be a string")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= SEQ_MAX:
        raise BadRequest(f"seq must be an integer from 0 to {SEQ_MAX}")
    if has is not None and (not isinstance(has, str) or len(has) > 200):
        raise BadRequest("has must be a short string or null")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("text holds a lone surrogate, which is not a character") from None
    return Request(text, seq, has)
