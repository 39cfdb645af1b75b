"""Where the store lives and how to talk to it: the URL, the engine, the schema and its version.

SQLite in a file is the embedded default; PostgreSQL (psycopg 3, `postgresql+psycopg://...`) is for several
processes on several machines. The URL comes from, first to last:
- the environment variable UNROLLED_DB_URL (scripts and tests);
- Streamlit's convention for secrets, `[connections.unrolled]` with `url = "..."` in `.streamlit/secrets.toml`
  (on Community Cloud, the app's Secrets). Read as a value only: `st.connection(...).query()` would cache every
  answer forever, and in each process apart;
- `sqlite:///<data folder>/unrolled.sqlite3`, the data folder being UNROLLED_DATA_DIR or `data/` beside the code.

SQLite under several processes (scripts/serve.sh): WAL, so readers do not wait for the writer; a busy timeout,
so a writer waits for another instead of failing; and every transaction that writes begins with BEGIN IMMEDIATE,
taking the write lock first. A transaction that reads and then writes would otherwise fail at once with "database is
locked" when another process wrote in between, whatever the timeout.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from store.errors import StoreError

URL_VARIABLE = "UNROLLED_DB_URL"
DATA_VARIABLE = "UNROLLED_DATA_DIR"
SECRETS_SECTION = "unrolled"  # [connections.unrolled] in .streamlit/secrets.toml
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000  # how long a SQLite writer waits for another process's transaction to end
READ_ONLY = "unrolled_read_only"  # an execution option: the transaction only reads (store.rooms.Store.reading)

metadata = sa.MetaData()

meta = sa.Table(
    "unrolled_meta",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("code", sa.String(8), primary_key=True),
    sa.Column("teacher_hash", sa.String(64), nullable=False),  # sha256 of the teacher key, never the key
    sa.Column("passage", sa.Integer, nullable=False),  # the room's current passage (models/passages.json)
    sa.Column("max_players", sa.Integer, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, default=False),
    sa.Column("created", sa.Float, nullable=False),  # seconds since the epoch
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=0),  # bumped by every change to the room
)

players = sa.Table(
    "players",
    metadata,
    sa.Column("room", sa.String(8), sa.ForeignKey("rooms.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("player", sa.String(40), primary_key=True),  # the random id the player's page keeps
    sa.Column("nickname", sa.String(64)),  # optional, cleaned (store.rooms.clean_nickname)
    sa.Column("hidden", sa.Boolean, nullable=False, default=False),  # the teacher hid the nickname
    sa.Column("joined", sa.Float, nullable=False),
)

guesses = sa.Table(
    "guesses",
    metadata,
    sa.Column("room", sa.String(8), primary_key=True),
    sa.Column("passage", sa.Integer, primary_key=True),
    sa.Column("player", sa.String(40), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # the character's index in the passage
    sa.Column("count", sa.Integer, nullable=False),  # guesses it took, as the server judged them (11: revealed)
    sa.Column("wrong", sa.String(16), nullable=False),  # the wrong guesses in order, one character each
    sa.Column("at", sa.Float, nullable=False),
    # (room, passage, player, position) is the primary key: a character is recorded once, by the database's own
    # constraint, not by a check before the insert that two processes could both pass
    sa.ForeignKeyConstraint(["room", "player"], ["players.room", "players.player"], ondelete="CASCADE"),
)


def data_dir(environ=os.environ) -> Path:
    """The folder of the embedded database: UNROLLED_DATA_DIR, or data/ beside the code (ignored by git)."""
    folder = environ.get(DATA_VARIABLE, "").strip()
    return Path(folder) if folder else Path(__file__).resolve().parent.parent / "data"


def secrets_url() -> str | None:
    """[connections.unrolled] url from Streamlit's secrets, when Streamlit has any; None otherwise."""
    try:
        import streamlit as st

        section = st.secrets.get("connections", {}).get(SECRETS_SECTION, {})
    except Exception:  # no secrets file, or not under Streamlit: the other sources decide
        return None
    url = section.get("url") if hasattr(section, "get") else None
    return str(url) if url else None


def database_url(environ=os.environ) -> str:
    url = environ.get(URL_VARIABLE, "").strip() or secrets_url()
    if url:
        return url
    return f"sqlite:///{data_dir(environ) / 'unrolled.sqlite3'}"


def describe(url: str) -> str:
    """The URL as it may be shown: without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "an unreadable database URL"


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`, with SQLite set up for several processes (WAL, busy timeout, BEGIN IMMEDIATE)."""
    try:
        parsed = sa.make_url(url)
    except Exception:
        raise StoreError(f"the database URL is not one SQLAlchemy reads: {describe(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
            dbapi_connection.isolation_level = None  # sqlite3 emits no BEGIN of its own: on_begin does
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a killed server keeps every commit
            # (only a power cut may lose the last ones), and a record no longer waits for the disk
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def on_begin(connection: sa.Connection) -> None:
            # a transaction that only reads takes no write lock: WAL lets it read beside a writer
            reading = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        # a connection per page run at once: Streamlit runs each session's script in a thread of its own
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=30)
    raise StoreError(f"the store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}")


def create_schema(engine: sa.Engine) -> None:
    """Make the tables on first start and record the schema's version; refuse a database of another version with
    a message that says what to do, never a traceback."""
    with engine.begin() as connection:
        metadata.create_all(connection, checkfirst=True)
        found = connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if found is None:
            connection.execute(sa.insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif found != str(SCHEMA_VERSION):
            raise StoreError(
                f"the database at {describe(str(engine.url))} holds Unrolled's schema version {found}, and this "
                f"version of Unrolled needs {SCHEMA_VERSION}: point {URL_VARIABLE} (or the app's secrets) at "
                "another database, or move the old one aside"
            )
