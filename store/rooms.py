"""A class's rooms of the guessing game, kept in the store: the room, its players, and every revealed character.

    store = Store.open()                                   # the URL from store/db.py; the schema made if new
    room, key = store.create_room(passage=17)              # the teacher's key: kept by the teacher's page only
    store.join(room.code, player_id, "Ada")                # RoomFull, RoomClosed, NoSuchRoom
    store.record(room.code, 17, player_id, position, count, wrong)   # True the first time, False ever after
    store.next_position(room.code, 17, player_id)          # where a reloaded page resumes
    store.records(room.code)                               # what the pooled figures are computed from (core/pooled.py)
    store.close(room.code, key); store.clear(...); store.delete(...); store.hide(...)

Every method is one transaction. A database that is locked past the busy timeout, full, read-only or gone
raises StoreError with a message; a room that cannot be joined or written raises a RoomError. Nothing here is
kept in the process's memory, so every process behind scripts/serve.sh sees the same rooms.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from store import db
from store.batch import Batcher
from store.errors import NoSuchRoom, NotTheTeacher, RoomClosed, RoomFull, StoreError

# No 0/O, 1/I/l: a code is read off a projector and typed on a phone. 31 letters and digits, 6 of them: about
# 890 million codes, drawn at random (never in sequence), and failed joins are limited (ui/room.py).
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_PLAYERS = 60  # per room: a class, with room for a second device each
ROOM_HOURS = 24.0  # a room and everything in it is deleted this long after it was opened
MAX_NICKNAME = 24  # characters
MAX_PLAYER_ID = 40
MAX_WRONG = 10  # wrong guesses a character can take before it is revealed (core/guess.py's MAX_WRONG)


@dataclass(frozen=True)
class Room:
    code: str
    passage: int  # the current passage's index (models/passages.json)
    max_players: int
    closed: bool
    created: float
    expires: float
    version: int  # bumped by every change: a view re-reads the room only when it moved


@dataclass(frozen=True)
class Player:
    player: str
    nickname: str | None
    hidden: bool
    joined: float


@dataclass(frozen=True)
class Record:
    """One revealed character, as the server judged it."""

    passage: int
    player: str
    position: int
    count: int  # guesses it took (MAX_WRONG + 1: revealed after MAX_WRONG wrong guesses, or "show me")
    wrong: str  # the wrong guesses, in order
    at: float


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(typed: str) -> str | None:
    """A code as typed (any case, spaces, a dash) in its stored form, or None if it cannot be one."""
    code = "".join(ch for ch in str(typed).upper() if not ch.isspace() and ch != "-")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def clean_nickname(raw: str | None) -> str | None:
    """A nickname as it may be kept: NFC, control and format characters removed, whitespace collapsed, at most
    MAX_NICKNAME characters; None when nothing is left. It is shown as text only, so markup stays as typed."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFC", str(raw)[: MAX_NICKNAME * 8])
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = " ".join(text.split())[:MAX_NICKNAME].strip()
    return text or None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def valid_player(player: str) -> bool:
    return isinstance(player, str) and 0 < len(player) <= MAX_PLAYER_ID and player.isascii() and player.isprintable()


class Store:
    """The rooms, through one SQLAlchemy engine (thread-safe; pages share one per process)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.backend = engine.dialect.name
        # SQLite has one writer at a time, and a writer waiting for another sleeps in SQLite's busy handler (up to
        # 100 ms a try) however soon the lock is free: this process's writers queue on a lock of its own first, so
        # only one of them at a time asks SQLite, and only other processes' writers are waited for there
        self.writers = threading.Lock() if self.backend == "sqlite" else contextlib.nullcontext()
        self.recorder = Batcher(self._record_many, name="unrolled-store-writer")  # record()'s one writer

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """The store at `url` (default: store.db.database_url()), its schema made if the database is new."""
        url = url or db.database_url()
        engine = db.make_engine(url)
        try:
            db.create_schema(engine)
        except StoreError:
            engine.dispose()
            raise
        except sa.exc.SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(f"the database at {db.describe(url)} cannot be used: {reason(e)}") from None
        return cls(engine)

    def transaction(self):
        """A transaction that may write (on SQLite: BEGIN IMMEDIATE, one writer of this process at a time)."""
        return _Transaction(self.engine, self.writers)

    def reading(self):
        """A transaction that only reads (on SQLite a plain BEGIN, beside any writer)."""
        return _Transaction(self.engine.execution_options(**{db.READ_ONLY: True}))

    # -- rooms

    def create_room(
        self, passage: int, max_players: int = MAX_PLAYERS, hours: float = ROOM_HOURS, now: float | None = None
    ) -> tuple[Room, str]:
        """A new room on `passage`, and the teacher's key (only its hash is kept)."""
        now = time.time() if now is None else now
        key = secrets.token_urlsafe(24)
        for _ in range(8):  # a clash is one in millions; a retry settles it
            code = new_code()
            row = {
                "code": code,
                "teacher_hash": key_hash(key),
                "passage": int(passage),
                "max_players": int(max_players),
                "closed": False,
                "created": now,
                "expires": now + hours * 3600,
                "version": 0,
            }
            with self.transaction() as c:
                if self._inserted(c, db.rooms, row):
                    return Room(**{k: v for k, v in row.items() if k != "teacher_hash"}), key
        raise StoreError("no free room code was found; try again")

    def room(self, code: str, now: float | None = None) -> Room | None:
        """The room, or None if there is none by that code or it has expired."""
        now = time.time() if now is None else now
        with self.reading() as c:
            row = c.execute(sa.select(db.rooms).where(db.rooms.c.code == code)).mappings().first()
        if row is None or row["expires"] <= now:
            return None
        return Room(**{k: v for k, v in row.items() if k != "teacher_hash"})

    def is_teacher(self, code: str, key: str | None) -> bool:
        if not key:
            return False
        with self.reading() as c:
            found = c.execute(sa.select(db.rooms.c.teacher_hash).where(db.rooms.c.code == code)).scalar()
        return found is not None and hmac.compare_digest(found, key_hash(key))

    # -- players

    def join(self, code: str, player: str, nickname: str | None = None, now: float | None = None) -> Player:
        """Join `player` to the room, or find them there already (a reload, a second tab, a phone that lost its
        connection is the same player); a nickname given is kept, cleaned."""
        now = time.time() if now is None else now
        if not valid_player(player):
            raise NoSuchRoom("this page's player id is not one the server made; reload the page")
        nickname = clean_nickname(nickname)
        with self.transaction() as c:
            room = self._room_for_update(c, code, now)
            row = (
                c.execute(sa.select(db.players).where(db.players.c.room == code, db.players.c.player == player))
                .mappings()
                .first()
            )
            if row is not None:
                if nickname is not None and nickname != row["nickname"]:
                    c.execute(
                        sa.update(db.players)
                        .where(db.players.c.room == code, db.players.c.player == player)
                        .values(nickname=nickname)
                    )
                    self._bump(c, code)
                return Player(player, nickname or row["nickname"], row["hidden"], row["joined"])
            if room["closed"]:
                raise RoomClosed(f"room {code} is closed")
            joined = c.execute(sa.select(sa.func.count()).where(db.players.c.room == code)).scalar()
            if joined >= room["max_players"]:
                raise RoomFull(f"room {code} is full: it takes {room['max_players']} players")
            c.execute(sa.insert(db.players).values(room=code, player=player, nickname=nickname, joined=now))
            self._bump(c, code)
        return Player(player, nickname, False, now)

    def players(self, code: str) -> list[Player]:
        with self.reading() as c:
            rows = c.execute(sa.select(db.players).where(db.players.c.room == code).order_by(db.players.c.joined))
            return [Player(r.player, r.nickname, r.hidden, r.joined) for r in rows]

    # -- records

    def record(
        self, code: str, passage: int, player: str, position: int, count: int, wrong: str, now: float | None = None
    ) -> bool:
        """Keep one revealed character as the server judged it. True if it was new; False if it was recorded
        already (a replayed or doubled message): the database's key decides, once, whoever writes first. Written
        by the store's writer thread together with whatever else waits (store/batch.py), committed on return."""
        now = time.time() if now is None else now
        if not 1 <= count <= MAX_WRONG + 1 or len(wrong) > MAX_WRONG or position < 0:
            raise ValueError(f"not a judged character: count {count}, {len(wrong)} wrong, position {position}")
        row = {
            "room": code,
            "passage": int(passage),
            "player": player,
            "position": int(position),
            "count": int(count),
            "wrong": wrong,
            "at": now,
        }
        # a writer stuck behind another process's lock gives up after the busy timeout; its batch, and the one
        # queued behind it, may each take that long
        wait = 2 * db.BUSY_TIMEOUT_MS / 1000 + 5
        try:
            return self.recorder.submit(row, timeout=wait)
        except TimeoutError:
            raise StoreError(f"the database did not answer within {wait:g} s: this may not have been saved") from None

    def _record_many(self, rows: list[dict]) -> list[bool | Exception]:
        """The writer thread's batch: each row's outcome, True (new), False (recorded already) or the RoomError
        that refused it."""
        try:
            return self._record_together(rows)
        except sa.exc.IntegrityError:
            # a player who is not in the room (a foreign key) spoils the whole statement: each row alone, so that
            # only theirs is refused (rare: a page joins before it plays)
            return [self._outcome_alone(row) for row in rows]

    def _record_together(self, rows: list[dict]) -> list[bool | Exception]:
        with self.transaction() as c:
            codes = sorted({row["room"] for row in rows})
            # The rooms' rows first, locked until the commit in one order (PostgreSQL's FOR UPDATE; SQLite's BEGIN
            # IMMEDIATE holds the whole database already): a room closed meanwhile waits for this batch, and two
            # processes' writers cannot each hold a room the other wants
            rooms = {
                r.code: r
                for r in c.execute(
                    sa.select(db.rooms.c.code, db.rooms.c.closed, db.rooms.c.expires)
                    .where(db.rooms.c.code.in_(codes))
                    .order_by(db.rooms.c.code)
                    .with_for_update()
                )
            }
            outcomes: list[bool | Exception] = [False] * len(rows)
            writable = []
            for i, row in enumerate(rows):
                room = rooms.get(row["room"])
                if room is None or room.expires <= row["at"]:
                    outcomes[i] = NoSuchRoom(f"there is no room {row['room']}: check the code, or ask for a new one")
                elif room.closed:
                    outcomes[i] = RoomClosed(f"room {row['room']} is closed: this guess was not recorded")
                else:
                    writable.append(i)
            if not writable:
                return outcomes
            dialect = postgresql if self.backend == "postgresql" else sqlite
            g = db.guesses.c
            statement = (
                dialect.insert(db.guesses)
                .values([rows[i] for i in writable])
                .on_conflict_do_nothing()
                .returning(g.room, g.passage, g.player, g.position)
            )
            new = {tuple(r) for r in c.execute(statement)}
            for i in writable:  # the same key twice in one batch: the first is the new one
                key = tuple(rows[i][k] for k in ("room", "passage", "player", "position"))
                outcomes[i] = key in new
                new.discard(key)
            changed = sorted({rows[i]["room"] for i in writable if outcomes[i]})
            if changed:
                c.execute(
                    sa.update(db.rooms).where(db.rooms.c.code.in_(changed)).values(version=db.rooms.c.version + 1)
                )
        return outcomes

    def _outcome_alone(self, row: dict) -> bool | Exception:
        try:
            return self._record_together([row])[0]
        except sa.exc.IntegrityError:
            return NoSuchRoom(f"this player has not joined room {row['room']}")
        except StoreError as e:
            return e

    def next_position(self, code: str, passage: int, player: str) -> int:
        """The first position of the passage this player has no record of: where a reloaded page resumes."""
        with self.reading() as c:
            done = set(
                c.execute(
                    sa.select(db.guesses.c.position).where(
                        db.guesses.c.room == code, db.guesses.c.passage == passage, db.guesses.c.player == player
                    )
                ).scalars()
            )
        position = 0
        while position in done:
            position += 1
        return position

    def records(self, code: str, passage: int | None = None, player: str | None = None) -> list[Record]:
        """The room's records, of one passage and one player when given."""
        query = sa.select(db.guesses).where(db.guesses.c.room == code)
        if passage is not None:
            query = query.where(db.guesses.c.passage == passage)
        if player is not None:
            query = query.where(db.guesses.c.player == player)
        query = query.order_by(db.guesses.c.passage, db.guesses.c.player, db.guesses.c.position)
        with self.reading() as c:
            return [Record(r.passage, r.player, r.position, r.count, r.wrong, r.at) for r in c.execute(query)]

    # -- the teacher's

    def close(self, code: str, key: str) -> None:
        """No one joins or records any more; what was recorded stays."""
        self._teacher_update(code, key, closed=True)

    def set_passage(self, code: str, key: str, passage: int) -> None:
        """The room moves on to `passage`; records of earlier passages stay, under their own index."""
        self._teacher_update(code, key, passage=int(passage))

    def hide(self, code: str, key: str, player: str, hidden: bool = True) -> None:
        """Hide a player's nickname from every view (the player and their records stay)."""
        with self.transaction() as c:
            self._check_teacher(c, code, key)
            c.execute(
                sa.update(db.players)
                .where(db.players.c.room == code, db.players.c.player == player)
                .values(hidden=hidden)
            )
            self._bump(c, code)

    def clear(self, code: str, key: str) -> None:
        """Delete every record of the room; its players and code stay."""
        with self.transaction() as c:
            self._check_teacher(c, code, key)
            c.execute(sa.delete(db.guesses).where(db.guesses.c.room == code))
            self._bump(c, code)

    def delete(self, code: str, key: str) -> None:
        """Delete the room and everything in it."""
        with self.transaction() as c:
            self._check_teacher(c, code, key)
            self._delete_rooms(c, [code])

    def expire(self, now: float | None = None) -> int:
        """Delete every room past its time, with its players and records; how many went."""
        now = time.time() if now is None else now
        with self.transaction() as c:
            codes = list(c.execute(sa.select(db.rooms.c.code).where(db.rooms.c.expires <= now)).scalars())
            self._delete_rooms(c, codes)
        return len(codes)

    # -- inside a transaction

    def _inserted(self, c: sa.Connection, table: sa.Table, row: dict) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING its key: True if the row went in, False if its key was taken
        (on either database; a driver's rowcount is not to be trusted here: psycopg's reads -1)."""
        dialect = postgresql if self.backend == "postgresql" else sqlite
        key = table.primary_key.columns.values()[0]
        statement = dialect.insert(table).values(**row).on_conflict_do_nothing().returning(key)
        return c.execute(statement).first() is not None

    def _room_for_update(self, c: sa.Connection, code: str, now: float):
        """The room's row, locked until the transaction ends (PostgreSQL's FOR UPDATE; SQLite's BEGIN IMMEDIATE
        already holds the database), so that joins counted against max_players cannot overtake each other."""
        row = c.execute(sa.select(db.rooms).where(db.rooms.c.code == code).with_for_update()).mappings().first()
        if row is None or row["expires"] <= now:
            raise NoSuchRoom(f"there is no room {code}: check the code, or ask for a new one")
        return row

    def _bump(self, c: sa.Connection, code: str) -> None:
        c.execute(sa.update(db.rooms).where(db.rooms.c.code == code).values(version=db.rooms.c.version + 1))

    def _check_teacher(self, c: sa.Connection, code: str, key: str) -> None:
        found = c.execute(sa.select(db.rooms.c.teacher_hash).where(db.rooms.c.code == code)).scalar()
        if found is None:
            raise NoSuchRoom(f"there is no room {code}")
        if not key or not hmac.compare_digest(found, key_hash(key)):
            raise NotTheTeacher(f"only the teacher who opened room {code} can do that")

    def _teacher_update(self, code: str, key: str, **values) -> None:
        with self.transaction() as c:
            self._check_teacher(c, code, key)
            c.execute(
                sa.update(db.rooms).where(db.rooms.c.code == code).values(version=db.rooms.c.version + 1, **values)
            )

    def _delete_rooms(self, c: sa.Connection, codes: list[str]) -> None:
        if not codes:
            return
        c.execute(sa.delete(db.guesses).where(db.guesses.c.room.in_(codes)))
        c.execute(sa.delete(db.players).where(db.players.c.room.in_(codes)))
        c.execute(sa.delete(db.rooms).where(db.rooms.c.code.in_(codes)))


def reason(error: Exception) -> str:
    """What went wrong with the database, in a few words a page can show."""
    text = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else type(error).__name__
    lowered = text.lower()
    for needle, words in (
        ("locked", "it stayed locked by another process"),
        ("readonly", "it is read-only"),
        ("read-only", "it is read-only"),
        ("disk is full", "its disk is full"),
        ("no space", "its disk is full"),
        ("unable to open", "its file cannot be opened"),
        ("connection", "the server cannot be reached"),
    ):
        if needle in lowered:
            return words
    return text[:160]


class _Transaction:
    """One transaction on the store; a database failure becomes a StoreError that says what happened. `queue`, a
    lock, is held from before the transaction begins until it has ended."""

    def __init__(self, engine, queue=None):
        self.engine = engine
        self.queue = queue if queue is not None else contextlib.nullcontext()
        self.context = None

    def __enter__(self) -> sa.Connection:
        self.queue.__enter__()
        try:
            self.context = self.engine.begin()
            return self.context.__enter__()
        except sa.exc.SQLAlchemyError as e:
            self.queue.__exit__(None, None, None)
            raise StoreError(f"the room's database cannot be used: {reason(e)}") from None
        except BaseException:
            self.queue.__exit__(None, None, None)
            raise

    def __exit__(self, kind, error, trace) -> bool:
        try:
            self.context.__exit__(kind, error, trace)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"the room's database cannot be used: {reason(e)}") from None
        finally:
            self.queue.__exit__(None, None, None)
        if isinstance(error, sa.exc.SQLAlchemyError) and not isinstance(error, sa.exc.IntegrityError):
            raise StoreError(f"the room's database cannot be used: {reason(error)}") from None
        return False
