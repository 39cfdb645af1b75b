"""A class room on the Guess page: a teacher opens one, students join by its link, its QR code or its code, and
every character a student reveals is recorded in the store (store/rooms.py) as the server judged it.

Who is who, without accounts: a player is a random id the page keeps in the browser's localStorage
(ui/web/guess.js sends it with the board's state as `who`), so a reload, a second tab or a phone that lost its
connection is the same player, and resumes at the first character not yet recorded. The teacher's key for a room
is kept the same way (the page stores it the moment the room opens) and is never in a link.

The room's state is in the store, never in this process: every process behind scripts/serve.sh sees the same
rooms. A room the store cannot reach, a full or closed room, or a code that is not one: the game plays alone,
and says why.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from core.guess import Game, Passages
from store.errors import RoomClosed, RoomError, RoomFull, StoreError
from store.rooms import MAX_NICKNAME, Room, Store, normal_code
from ui.i18n import t

ROOM_PARAM = "room"  # Guess?room=CODE
FAILED_JOINS_PER_SESSION = 10  # a minute: a student mistyping a code a few times is fine
# A minute, all sessions of this process together: codes tried by the hundred get nowhere. Not per address: a
# class shares one address behind the school's NAT, and behind scripts/serve.sh every client is 127.0.0.1.
FAILED_JOINS_PER_PROCESS = 300
RETRY_STORE = 30.0  # seconds before a process tries again a store it could not open
# Seconds this process trusts a room as it last read it (its passage, whether it is closed), for all its sessions
# at once: a guess then costs only its record, which checks the room itself, and a class reads its room once a
# second however many play. Read by each session every few seconds instead, a class that joined together re-read
# it together, in bursts of a read per student.
ROOM_RECHECK = 1.0
PAGE_PATH = "Guess"


@dataclass(frozen=True)
class Seat:
    """This session in a room."""

    room: Room
    player: str | None  # the page's player id; in a session's first run, the id offered to it (see offer())
    key: str | None  # the room's teacher key, when this session holds it (checked against the store)
    said: bool = True  # whether the page has said `player` is its own: until then nothing is joined or kept (a
    # seat made without a player, as the projector's for its downloads, is a teacher's: it plays no game)

    @property
    def teacher(self) -> bool:
        return self.key is not None


# -- the store, one per process


class _Opened:
    lock = threading.Lock()
    store: Store | None = None
    problem: str | None = None
    tried: float = 0.0


def store() -> Store | None:
    """This process's store, opened on first use; None while it cannot be (the reason: store_problem()). A store
    that failed is tried again after RETRY_STORE seconds, not on every run."""
    with _Opened.lock:
        if _Opened.store is None and time.monotonic() - _Opened.tried > RETRY_STORE:
            _Opened.tried = time.monotonic()
            try:
                _Opened.store, _Opened.problem = Store.open(), None
            except StoreError as e:
                _Opened.problem = str(e)
        return _Opened.store


def store_problem() -> str | None:
    return _Opened.problem


# -- failed joins


class _Failures:
    lock = threading.Lock()
    times: deque[float] = deque()


def allowed_to_try() -> bool:
    """Whether this session may try another code: at most FAILED_JOINS_PER_SESSION failures a minute here, and
    FAILED_JOINS_PER_PROCESS in the whole process."""
    now = time.monotonic()
    mine = [at for at in st.session_state.get("room_failed", []) if now - at < 60]
    st.session_state["room_failed"] = mine
    with _Failures.lock:
        while _Failures.times and now - _Failures.times[0] >= 60:
            _Failures.times.popleft()
        return len(mine) < FAILED_JOINS_PER_SESSION and len(_Failures.times) < FAILED_JOINS_PER_PROCESS


def failed() -> None:
    now = time.monotonic()
    st.session_state.setdefault("room_failed", []).append(now)
    with _Failures.lock:
        _Failures.times.append(now)


# -- where this session is


def say(message: str, kind: str = "warning") -> None:
    """A message about the room, shown once above the game."""
    st.session_state["room_notice"] = (kind, message)


def requested() -> str | None:
    """The code in the URL, in its stored form; None if there is none or it cannot be a code."""
    raw = st.query_params.get(ROOM_PARAM)
    if raw is None:
        return None
    code = normal_code(raw)
    if code is None:
        say(t("room.bad_code", code=str(raw)[:20]))
    return code


def who() -> tuple[str | None, dict[str, str]]:
    """(the player id, teacher keys by room) the page sent; the keys this session made itself come first."""
    sent = (st.session_state.get("guess_board") or {}).get("who")
    player = sent.get("player") if isinstance(sent, dict) and isinstance(sent.get("player"), str) else None
    keys = dict(sent.get("keys") or {}) if isinstance(sent, dict) and isinstance(sent.get("keys"), dict) else {}
    return player, keys | st.session_state.get("room_keys", {})


def offer() -> str:
    """A player id for a page that has none yet, made once per session. A page says who it is only after its
    first run, and a page that had no id takes this one (ui/web/guess.js): the first run can then draw the room as
    this player's, and the page's next run, the one that says so, needs no further run to redraw it. A class
    joining together is all first visits: 2 runs a student where it was 3."""
    return st.session_state.setdefault("room_offer", secrets.token_hex(16))


def seat() -> Seat | None:
    """This session's seat in the room its URL names, joining it the first time; None to play alone (with the
    reason said)."""
    code = requested()
    play = st.session_state.get("guess_play")
    if code is not None and play is not None and play.left == code:  # the game's socket found the room closed
        play.left = None
        leave(code)
    if code is None or st.session_state.get("room_left") == code:
        return None
    s = store()
    if s is None:
        say(t("room.store_down", problem=store_problem() or "?"))
        return None
    player, keys = who()
    try:
        room = recent_room(s, code)
        if room is None:
            if allowed_to_try():
                failed()
                say(t("room.unknown", code=code))
            else:
                say(t("room.too_many"))
            return leave(code)
        key = keys.get(code) if s.is_teacher(code, keys.get(code)) else None
        # the teacher's own guesses are a demonstration, not the class's: only students join
        if key is None and player is not None and st.session_state.get("room_joined") != (code, player):
            s.join(code, player, st.session_state.get("room_nickname"))
            st.session_state["room_joined"] = (code, player)
    except RoomFull:
        say(t("room.full", code=code, n=room.max_players))
        return leave(code)
    except RoomClosed:
        say(t("room.closed", code=code))
        return leave(code)
    except RoomError as e:  # NoSuchRoom, and anything else the room refuses
        say(str(e))
        return leave(code)
    except StoreError as e:
        say(t("room.store_down", problem=str(e)))
        return None
    return Seat(room, player or offer(), key, said=player is not None)


class _Rooms:
    """The rooms this process read lately: code -> (when, Room or None). Any session's thread reads `read`; one at
    a time, under `lock`, reads the store and writes it (a dict's get and set are each atomic under the GIL, and
    pruning swaps in a new dict)."""

    lock = threading.Lock()
    read: dict[str, tuple[float, Room | None]] = {}
    KEEP = 1000  # codes held at most: past that, the ones older than a minute go (mistyped codes are read too)


def recent_room(s: Store, code: str) -> Room | None:
    """The room as this process read it less than ROOM_RECHECK seconds ago, or as the store has it now."""
    held = _Rooms.read.get(code)
    if held is not None and time.monotonic() - held[0] < ROOM_RECHECK:
        return held[1]
    with _Rooms.lock:  # the sessions that find it stale together wait for one read, not one each
        held = _Rooms.read.get(code)
        if held is None or time.monotonic() - held[0] >= ROOM_RECHECK:
            held = _Rooms.read[code] = (time.monotonic(), s.room(code))
            if len(_Rooms.read) > _Rooms.KEEP:
                old = time.monotonic() - 60
                _Rooms.read = {c: h for c, h in _Rooms.read.items() if h[0] >= old}
    return held[1]


def forget_room(code: str) -> None:
    """Read the room afresh on the next run (after this session changed it, or a record found it changed)."""
    _Rooms.read.pop(code, None)


def leave(code: str) -> None:
    """Play alone from now on in this session (the URL keeps the code, so a reload tries again)."""
    st.session_state["room_left"] = code
    return None


def game_for(play, seat: Seat, passages: Passages, fresh: bool = False) -> Game:
    """The game `play` (ui.guess.Play) plays in the room: the room's passage, resumed where this player's records
    end (a reload, a second tab or a new connection goes on from the first character not yet recorded). When the
    teacher moves the room on, a player in the middle of a passage finishes it first, and then (`fresh`: the
    board's "Next passage") plays the room's new one. The caller holds play.lock."""
    held, where = play.game, play.key
    if held is not None and where is not None and where[0] == seat.room.code and where[2] == seat.player:
        same = where[1] == seat.room.passage
        if same or not held.done or not fresh:  # the same passage; or finish the old one; or wait to be asked
            play.seed = where[1]
            return held
    passage = seat.room.passage
    text = passages.texts[passage % len(passages.texts)]
    counts: list[int] = []
    if seat.player is not None:
        mine = {r.position: r.count for r in store().records(seat.room.code, passage, seat.player)}
        while len(counts) in mine:
            counts.append(mine[len(counts)])
    play.game, play.key, play.seed = (
        Game(text, position=len(counts), counts=counts),
        (seat.room.code, passage, seat.player),
        passage,
    )
    return play.game


def moved_on(seat: Seat, passage: int) -> bool:
    """Whether the room has moved on from the passage this session plays."""
    return passage != seat.room.passage


def record(seat: Seat, game: Game, wrong: list[str], passage: int) -> tuple[str, bool]:
    """Keep the character just revealed (the last of game.counts) as the server judged it: what to tell the player
    when it could not be kept (the game goes on either way), and whether the room was found closed (the caller
    then plays alone: this runs in a script run and in the game's socket, so it leaves no session state itself)."""
    if seat.teacher:
        return "", False  # the teacher's guesses are not the class's
    if not seat.said:
        return t("room.not_saved", problem=t("room.no_player")), False
    try:
        where = (seat.room.code, passage, seat.player, game.position - 1)
        store().record(*where, game.counts[-1], "".join(wrong))
    except RoomClosed:
        forget_room(seat.room.code)
        return t("room.closed_now"), True
    except (RoomError, StoreError) as e:
        return t("room.not_saved", problem=str(e)), False
    return "", False


# -- the link


def is_local(host: str) -> bool:
    """Whether a browser elsewhere cannot reach this address: localhost and loopback addresses."""
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def page_base() -> str | None:
    """The address the teacher's browser used for the app, up to its base path (st.context.url, without the
    page's own path)."""
    url = st.context.url
    if not url:
        return None
    parts = urlsplit(url)
    path = parts.path
    if path.rstrip("/").endswith("/" + PAGE_PATH) or path.rstrip("/") == PAGE_PATH:
        path = path.rstrip("/")[: -len(PAGE_PATH)]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


def join_link(code: str, base: str) -> str:
    return f"{base.rstrip('/')}/{PAGE_PATH}?{ROOM_PARAM}={code}"


def typed_base(raw: str) -> str | None:
    """The address a teacher typed for the class (a host, host:port, or a URL), as a base URL; None if it is
    not one."""
    raw = raw.strip()
    if not raw:
        return None
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", "", ""))


def qr_svg(link: str, scale: int = 8) -> str:
    """The link as a QR code, in SVG (segno): black on white with its quiet zone, as phones' cameras expect."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=scale, border=4, xmldecl=False, title=link)
    return buffer.getvalue().decode()


# -- what the page shows above the game


def notice() -> None:
    held = st.session_state.pop("room_notice", None)
    if held:
        kind, message = held
        getattr(st, kind)(message)


def open_room(passage: int) -> None:
    """The teacher's button: a new room on the passage being played, its key kept by this session and, once the
    page has it, in the browser's localStorage."""
    s = store()
    if s is None:
        st.error(t("room.store_down", problem=store_problem() or "?"))
        return
    try:
        s.expire()  # rooms past their time go, with everything in them, whenever a room is opened
        room, key = s.create_room(passage=passage)
    except StoreError as e:
        st.error(t("room.store_down", problem=str(e)))
        return
    st.session_state.setdefault("room_keys", {})[room.code] = key
    st.session_state["room_remember"] = {"code": room.code, "key": key}
    st.session_state.pop("room_left", None)
    st.query_params[ROOM_PARAM] = room.code
    st.query_params.pop("seed", None)
    st.rerun()


def join_typed(raw: str) -> None:
    if not allowed_to_try():
        st.error(t("room.too_many"))
        return
    code = normal_code(raw)
    if code is None:
        failed()
        st.error(t("room.bad_code", code=raw[:20]))
        return
    st.session_state.pop("room_left", None)
    st.query_params[ROOM_PARAM] = code
    st.query_params.pop("seed", None)
    st.rerun()


def alone_panel(passage: int) -> None:
    with st.expander(t("room.together"), icon=":material/groups:"):
        st.markdown(t("room.together_help"))
        left, right = st.columns(2)
        if left.button(t("room.open"), icon=":material/add:", key="room_open"):
            open_room(passage)
        with right.form("room_join", border=False):
            typed = st.text_input(t("room.code_label"), max_chars=12, placeholder="ABC234", key="room_typed")
            if st.form_submit_button(t("room.join")):
                join_typed(typed)


def teacher_panel(seat: Seat, passages: Passages) -> None:
    s, room = store(), seat.room
    with st.container(border=True):
        st.subheader(t("room.teacher_title", code=room.code))
        base = page_base() or ""
        host = urlsplit(base).hostname or ""
        if is_local(host):
            st.warning(t("room.local", host=host or "?"))
            typed = st.text_input(t("room.address"), placeholder="192.168.1.20:8501", key="room_address")
            base = typed_base(typed) or ""
            if typed and not base:
                st.error(t("room.address_bad"))
        left, right = st.columns([2, 1])
        players = s.players(room.code)
        with left:
            if base:
                link = join_link(room.code, base)
                st.markdown(t("room.link_label"))
                st.code(link, language=None)
            st.markdown(t("room.players", n=len(players), most=room.max_players))
            if room.closed:
                st.info(t("room.closed_teacher"))
            st.markdown(t("room.teacher_note"))  # st.caption's grey fails the 4.5:1 contrast check (axe)
        if base:
            right.image(qr_svg(join_link(room.code, base)), caption=t("room.qr_caption"), width=220)
        named = {p.player: p.nickname for p in players if p.nickname}
        if named:
            hidden = [p.player for p in players if p.hidden and p.player in named]
            chosen = st.multiselect(
                t("room.hide"), list(named), default=hidden, format_func=lambda p: named[p], key="room_hide"
            )
            for player in set(chosen) ^ set(hidden):
                s.hide(room.code, seat.key, player, player in chosen)
        wall = {ROOM_PARAM: room.code} | ({"address": base} if base and is_local(host) else {})
        st.link_button(t("room.projector"), f"Projector?{urlencode(wall)}", icon=":material/present_to_all:")
        downloads(seat, passages)
        close, more = st.columns([1, 3])
        if close.button(t("room.close"), disabled=room.closed, key="room_close"):
            s.close(room.code, seat.key)
            forget_room(room.code)
            st.rerun()
        with more.popover(t("room.more")):
            sure = st.checkbox(t("room.sure"), key="room_sure")
            if st.button(t("room.clear"), disabled=not sure, key="room_clear"):
                s.clear(room.code, seat.key)
                st.rerun()
            if st.button(t("room.delete"), disabled=not sure, type="primary", key="room_delete"):
                s.delete(room.code, seat.key)
                forget_room(room.code)
                st.query_params.pop(ROOM_PARAM, None)
                st.rerun()


def student_panel(seat: Seat) -> None:
    room = seat.room
    with st.container(border=True):
        players = store().players(room.code)
        # a page not yet said is about to join as this player: counted, as it will be when its next run joins it
        coming = not seat.said and all(p.player != seat.player for p in players)
        st.markdown(t("room.student_title", code=room.code, n=len(players) + coming))
        left, right = st.columns([3, 1])
        nickname = left.text_input(
            t("room.nickname"), max_chars=MAX_NICKNAME, key="room_nickname", help=t("room.nickname_help")
        )
        # (before the page has said who it is, seat() saves it with the join)
        if nickname and seat.said and st.session_state.get("room_nickname_saved") != nickname:
            try:
                store().join(room.code, seat.player, nickname)
                st.session_state["room_nickname_saved"] = nickname
            except (RoomError, StoreError) as e:
                st.warning(str(e))
        if right.button(t("room.leave"), key="room_leave"):
            leave(room.code)
            st.query_params.pop(ROOM_PARAM, None)
            st.rerun()


def panel(seat: Seat | None, passage: int, passages: Passages) -> None:
    """The room's part of the page, above the game: for the teacher, for a student, or to open or join one."""
    notice()
    if seat is None:
        alone_panel(passage)
    elif seat.teacher:
        teacher_panel(seat, passages)
    else:
        student_panel(seat)


# -- the class's figures


def bits(value: float, interval: tuple[float, float] | None) -> str:
    return f"{value:.2f}" + (f" ({interval[0]:.2f}–{interval[1]:.2f})" if interval else "")


def results(seat: Seat, models: dict, passages: Passages) -> None:
    """The class's pooled figures beside the three models' on the same characters, and the player's own: for a
    student once they have finished the passage (their guesses are theirs until then), for the teacher always.
    The distribution chart is the board's (with_class), drawn one way by ui/web/distribution.js."""
    from core import pooled
    from core.models import models_dir
    from ui import guess, panels

    play = st.session_state.get("guess_play")
    game, where = (play.game, play.key) if play is not None else (None, None)
    passage = where[1] if where and where[0] == seat.room.code else seat.room.passage
    if not seat.teacher and (game is None or not game.done):
        st.markdown(t("room.results_after"))
        return
    try:
        rows = [(r.player, r.position, r.count) for r in store().records(seat.room.code, passage)]
    except StoreError as e:
        st.warning(t("room.store_down", problem=str(e)))
        return
    st.subheader(t("room.results_title"))
    class_figures = pooled.pool(rows)
    if class_figures is None:
        st.info(t("room.results_none"))
        return
    text = passages.texts[passage % len(passages.texts)]
    folder = str(models_dir())
    table = []
    you = [count for player, _, count in rows if player == seat.player]
    b = class_figures.bounds
    table.append(
        {
            t("guess.col_player"): t("room.the_class"),
            t("guess.col_gpc"): round(class_figures.guesses_per_char, 2),
            t("guess.col_lower"): bits(b.lower, class_figures.lower_interval),
            t("guess.col_upper"): bits(b.upper, class_figures.upper_interval),
            t("room.col_chars"): class_figures.characters,
            t("room.col_players"): str(class_figures.players),
        }
    )
    if you:
        mine = pooled.bounds(you)
        table.append(
            {
                t("guess.col_player"): t("guess.you"),
                t("guess.col_gpc"): round(sum(you) / len(you), 2),
                t("guess.col_lower"): bits(mine.lower, None),
                t("guess.col_upper"): bits(mine.upper, None),
                t("room.col_chars"): len(you),
                t("room.col_players"): "1",
            }
        )
    for mid, model in models.items():
        picked = pooled.on_same(rows, guess.model_plays(folder, mid, text).counts)
        if picked.size == 0:
            continue
        mb = pooled.bounds(picked)
        name = panels.display_name(model)
        table.append(
            {
                t("guess.col_player"): name,
                t("guess.col_gpc"): round(float(picked.mean()), 2),
                t("guess.col_lower"): bits(mb.lower, None),
                t("guess.col_upper"): bits(mb.upper, None),
                t("room.col_chars"): int(picked.size),
                t("room.col_players"): "",
            }
        )
    st.table(table, hide_index=True)  # our own words and figures only: no player's text reaches it
    notes = [t("room.results_interval")]
    if not b.monotone:
        notes.append(t("room.results_falling"))
    st.markdown(" ".join(notes))


def with_class(data: dict, seat: Seat, game: Game, passage: int) -> dict:
    """The board's payload with the class beside the player, once a student has finished the passage: its
    running score, its mean guesses at each character and its guess-count distribution, drawn by the board's
    own table and chart."""
    from core import pooled

    if seat.teacher or not game.done:
        return data
    try:
        rows = [(r.player, r.position, r.count) for r in store().records(seat.room.code, passage)]
    except StoreError:
        return data
    figures = pooled.pool(rows, resamples=0)
    if figures is None:
        return data
    mean, _ = pooled.per_position(rows, len(game.text))
    name = t("room.the_class")
    data["players"].insert(1, name)
    data["dists"].insert(1, figures.q.round(4).tolist())
    b = figures.bounds
    data["scores"].insert(
        1,
        {"name": name, "guesses_per_char": figures.guesses_per_char, "lower": b.lower, "upper": b.upper, "bits": None},
    )
    for i, revealed in enumerate(data["record"]):
        revealed["counts"].insert(1, round(float(mean[i]), 1))
    return data


# -- export


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading apostrophe (OWASP's
    advice against CSV injection); the rest stays as typed."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def records_csv(code: str, texts: list[str], records: list, players: list) -> str:
    """One row per revealed character: the room, the passage, the player (id and nickname as typed, made safe for
    spreadsheets), the position and its character, the guesses it took and the wrong ones in order, and when."""
    import csv
    import io
    from datetime import UTC, datetime

    nicknames = {p.player: (p.nickname or "", p.hidden) for p in players}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["room", "passage", "player", "nickname", "nickname_hidden", "position", "character", "guesses",
                     "wrong_guesses", "recorded_utc"])  # fmt: skip
    for r in records:
        nickname, hidden = nicknames.get(r.player, ("", False))
        text = texts[r.passage % len(texts)]
        character = text[r.position] if 0 <= r.position < len(text) else ""
        writer.writerow(
            [
                code,
                r.passage,
                r.player,
                spreadsheet_safe(nickname),
                int(hidden),
                r.position,
                spreadsheet_safe(character),
                r.count,
                spreadsheet_safe(r.wrong),
                datetime.fromtimestamp(r.at, UTC).isoformat(timespec="seconds"),
            ]
        )
    return out.getvalue()


def summary_json(code: str, passage: int, text: str, records: list, model_counts: dict[str, list[int]]) -> str:
    """The pooled figures as JSON: the class's, and each model's on the same characters."""
    import json

    from core import pooled

    rows = [(r.player, r.position, r.count) for r in records if r.passage == passage]
    figures = pooled.pool(rows)
    mean, seen = pooled.per_position(rows, len(text))

    def described(b) -> dict:
        return {"lower_bits": b.lower, "upper_bits": b.upper, "q_falls": b.monotone}

    out = {"room": code, "passage": passage, "characters_in_passage": len(text)}
    if figures is None:
        return json.dumps(out | {"players": 0, "characters": 0}, indent=1)
    out |= {
        "players": figures.players,
        "characters": figures.characters,
        "class": {
            "guesses_per_char": figures.guesses_per_char,
            "q": figures.q.round(6).tolist(),
            **described(figures.bounds),
            "lower_interval": figures.lower_interval,
            "upper_interval": figures.upper_interval,
        },
        "models": {},
        "per_position": [
            {"position": i, "character": text[i], "mean_guesses": None if n == 0 else float(m), "players": int(n)}
            for i, (m, n) in enumerate(zip(mean, seen, strict=True))
        ],
    }
    for mid, counts in model_counts.items():
        picked = pooled.on_same(rows, counts)
        if picked.size:
            out["models"][mid] = {"guesses_per_char": float(picked.mean()), **described(pooled.bounds(picked))}
        for row in out["per_position"]:
            row[f"{mid}_guesses"] = int(counts[row["position"]])  # the model's rank of the character, capped
    return json.dumps(out, indent=1, ensure_ascii=False)


def downloads(seat: Seat, passages: Passages) -> None:
    """The teacher's downloads, made when clicked (a page run that does not download builds neither)."""
    from core.models import models_dir
    from ui import guess
    from ui.panels import shared_models

    s, code, passage = store(), seat.room.code, seat.room.passage
    text = passages.texts[passage % len(passages.texts)]
    folder = str(models_dir())

    def csv_text() -> str:
        return records_csv(code, passages.texts, s.records(code), s.players(code))

    def json_text() -> str:
        models, _ = shared_models(folder)
        counts = {mid: guess.model_plays(folder, mid, text).counts.tolist() for mid in models}
        return summary_json(code, passage, text, s.records(code), counts)

    for column, (label, make, name, mime) in zip(
        st.columns(2),
        [
            (t("room.download_csv"), csv_text, f"room-{code}.csv", "text/csv"),
            (t("room.download_json"), json_text, f"room-{code}-summary.json", "application/json"),
        ],
        strict=True,
    ):
        column.download_button(label, make, file_name=name, mime=mime, icon=":material/download:", key=name)
