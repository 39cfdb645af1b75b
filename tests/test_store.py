"""The store (store/): rooms, players and records, the same tests against SQLite in a file and a real PostgreSQL.

PostgreSQL comes from the environment: UNROLLED_TEST_POSTGRES_URL, or the PG* variables that `pg_virtualenv`
sets around the suite (scripts/test.sh runs pytest inside it). Without one these tests fail; they never skip.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from store import db
from store.errors import NoSuchRoom, NotTheTeacher, RoomClosed, RoomFull, StoreError
from store.rooms import ALPHABET, CODE_LENGTH, MAX_NICKNAME, Store, clean_nickname, normal_code

BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str:
    url = os.environ.get("UNROLLED_TEST_POSTGRES_URL")
    if url:
        return url
    env = os.environ
    if not env.get("PGHOST") or not env.get("PGPORT"):
        pytest.fail(
            "no PostgreSQL for the store's tests: run them inside `pg_virtualenv` (scripts/test.sh does), or set "
            "UNROLLED_TEST_POSTGRES_URL"
        )
    user, password = env.get("PGUSER", "postgres"), env.get("PGPASSWORD", "")
    return f"postgresql+psycopg://{user}:{password}@{env['PGHOST']}:{env['PGPORT']}/{env.get('PGDATABASE', 'postgres')}"


def fresh_url(backend: str, tmp_path) -> str:
    """An empty database of `backend`: a new file, or PostgreSQL with the store's tables dropped."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'rooms.sqlite3'}"
    url = postgres_url()
    engine = sa.create_engine(url)
    with engine.begin() as c:
        db.metadata.drop_all(c)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def store(url):
    s = Store.open(url)
    yield s
    s.engine.dispose()


def test_a_room_takes_players_and_keeps_each_revealed_character_once(store):
    room, key = store.create_room(passage=17)
    assert len(room.code) == CODE_LENGTH and set(room.code) <= set(ALPHABET) and key
    ada = store.join(room.code, "p-ada", "Ada")
    assert ada.nickname == "Ada" and not ada.hidden
    store.join(room.code, "p-bob")
    assert store.record(room.code, 17, "p-ada", 0, 1, "")
    assert store.record(room.code, 17, "p-ada", 1, 3, "ab")
    assert not store.record(room.code, 17, "p-ada", 1, 1, "")  # a replay: the first judgement stands
    assert store.record(room.code, 17, "p-bob", 0, 11, "etaoinshrd")
    got = store.records(room.code)
    assert [(r.player, r.position, r.count, r.wrong) for r in got] == [
        ("p-ada", 0, 1, ""),
        ("p-ada", 1, 3, "ab"),
        ("p-bob", 0, 11, "etaoinshrd"),
    ]
    assert all(r.passage == 17 for r in got)
    assert store.next_position(room.code, 17, "p-ada") == 2
    assert store.next_position(room.code, 17, "p-bob") == 1
    assert store.next_position(room.code, 18, "p-ada") == 0  # another passage starts afresh
    # a reload is the same player: joining again changes nothing but a new nickname
    again = store.join(room.code, "p-ada")
    assert again.nickname == "Ada" and [p.player for p in store.players(room.code)] == ["p-ada", "p-bob"]


def test_every_change_moves_the_room_s_version(store):
    room, key = store.create_room(passage=1)
    versions = [store.room(room.code).version]
    store.join(room.code, "p1")
    versions.append(store.room(room.code).version)
    store.record(room.code, 1, "p1", 0, 2, "x")
    versions.append(store.room(room.code).version)
    store.record(room.code, 1, "p1", 0, 2, "x")  # nothing new: the version stays
    versions.append(store.room(room.code).version)
    store.hide(room.code, key, "p1")
    versions.append(store.room(room.code).version)
    assert versions[0] < versions[1] < versions[2] == versions[3] < versions[4]


def test_a_full_closed_expired_or_unknown_room_says_so(store):
    room, key = store.create_room(passage=0, max_players=2)
    store.join(room.code, "p1")
    store.join(room.code, "p2")
    with pytest.raises(RoomFull, match="full"):
        store.join(room.code, "p3")
    store.join(room.code, "p2")  # one already in may come back
    with pytest.raises(NoSuchRoom):
        store.join("ZZZZZZ", "p1")
    with pytest.raises(NoSuchRoom):
        store.record(room.code, 0, "stranger", 0, 1, "")  # never joined
    store.close(room.code, key)
    assert store.room(room.code).closed
    with pytest.raises(RoomClosed):
        store.record(room.code, 0, "p1", 0, 1, "")
    with pytest.raises(RoomClosed):
        store.join(room.code, "p4")
    old, _ = store.create_room(passage=0, hours=1, now=time.time() - 7200)
    assert store.room(old.code) is None
    with pytest.raises(NoSuchRoom):
        store.join(old.code, "p1")
    assert store.expire() == 1  # it goes, with everything in it
    assert store.room(room.code) is not None


def test_a_batch_refuses_only_the_rows_it_must(store):
    """The writer thread's batch (store/batch.py): a closed room, an unknown room, a stranger and a key sent twice
    each get their own outcome, and the rest of the batch is written."""
    open_room, _ = store.create_room(passage=0)
    shut, shut_key = store.create_room(passage=0)
    for room in (open_room, shut):
        store.join(room.code, "p1")
    store.close(shut.code, shut_key)
    version = store.room(open_room.code).version

    def row(code, player, position):
        return {"room": code, "passage": 0, "player": player, "position": position, "count": 2, "wrong": "e"}

    now = time.time()
    rows = [
        row(open_room.code, "p1", 0),
        row(shut.code, "p1", 0),
        row("ZZZZZZ", "p1", 0),
        row(open_room.code, "p1", 0),  # the same key again in the same batch
        row(open_room.code, "p1", 1),
    ]
    outcomes = store._record_many([{**r, "at": now} for r in rows])
    assert outcomes[0] is True and outcomes[3] is False and outcomes[4] is True
    assert isinstance(outcomes[1], RoomClosed) and isinstance(outcomes[2], NoSuchRoom)
    assert store.room(open_room.code).version == version + 1  # one batch, one change of the room
    # a stranger spoils the statement: every row is then written alone, and only the stranger's is refused
    outcomes = store._record_many(
        [{**row(open_room.code, "p1", 2), "at": now}, {**row(open_room.code, "x", 0), "at": now}]
    )
    assert outcomes[0] is True and isinstance(outcomes[1], NoSuchRoom)
    assert [r.position for r in store.records(open_room.code)] == [0, 1, 2]
    assert store.records(shut.code) == []


def test_many_threads_recording_at_once_are_each_answered_once(store):
    """A class's page threads all at once: each record is answered for itself, and each key lands once."""
    room, _ = store.create_room(passage=0)
    players = [f"p{i}" for i in range(40)]
    for player in players:
        store.join(room.code, player)
    start = threading.Barrier(len(players))

    def play(player):
        start.wait()
        # every position twice: the second is a replay, answered False
        return [store.record(room.code, 0, player, position // 2, 1, "") for position in range(20)]

    transactions = []
    sa.event.listen(store.engine, "begin", lambda connection: transactions.append(1))
    with ThreadPoolExecutor(len(players)) as pool:
        answers = list(pool.map(play, players))
    assert all(a == [True, False] * 10 for a in answers)
    assert len(store.records(room.code)) == 40 * 10
    # written together, not one transaction each (the writer thread takes whatever waits)
    assert len(transactions) < 0.75 * 40 * 20, len(transactions)


def test_only_the_teacher_s_key_closes_clears_hides_or_deletes(store):
    room, key = store.create_room(passage=3)
    store.join(room.code, "p1", "Ada")
    store.record(room.code, 3, "p1", 0, 1, "")
    for act in (store.close, store.clear, store.delete):
        with pytest.raises(NotTheTeacher):
            act(room.code, "not-the-key")
        with pytest.raises(NotTheTeacher):
            act(room.code, "")
    assert store.is_teacher(room.code, key) and not store.is_teacher(
        room.code, key[:-1] + ("y" if key.endswith("x") else "x")
    )
    store.hide(room.code, key, "p1")
    assert store.players(room.code)[0].hidden
    store.set_passage(room.code, key, 4)
    assert store.room(room.code).passage == 4 and store.records(room.code, passage=3)  # earlier records stay
    store.clear(room.code, key)
    assert store.records(room.code) == [] and store.players(room.code)
    store.delete(room.code, key)
    assert store.room(room.code) is None and store.players(room.code) == []


def test_nicknames_are_kept_as_text_capped_and_without_control_characters():
    assert clean_nickname("<b>Ada</b>") == "<b>Ada</b>"  # markup stays as typed: pages show it as text
    assert clean_nickname("A\x00d\x1ba\u200b") == "Ada"
    assert clean_nickname("  two   words \n") == "two words"
    assert clean_nickname("🦊 fox") == "🦊 fox"
    assert len(clean_nickname("x" * 10_000)) == MAX_NICKNAME
    assert clean_nickname("\x07\x08") is None and clean_nickname("") is None and clean_nickname(None) is None


def test_a_code_is_typed_any_way_and_codes_are_drawn_not_counted(store):
    codes = [store.create_room(passage=0)[0].code for _ in range(40)]
    assert len(set(codes)) == 40
    assert not set("0O1lI") & set("".join(codes))
    assert sorted(codes) != codes or len({c[:-1] for c in codes}) > 1  # not one counter's run
    code = codes[0]
    assert normal_code(f" {code[:3].lower()}-{code[3:]} ") == code
    assert normal_code("ABC") is None and normal_code("O0O0O0") is None


def test_a_database_of_another_schema_version_gets_a_message(url):
    Store.open(url).engine.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.update(db.meta).where(db.meta.c.key == "schema_version").values(value="99"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 99.*needs 1"):
        Store.open(url)


def test_a_database_that_cannot_be_used_gives_a_message(tmp_path):
    with pytest.raises(StoreError, match="cannot be used"):
        Store.open(f"sqlite:///{tmp_path}")  # a folder, not a file
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        Store.open("mysql://somewhere/db")
    with pytest.raises(StoreError, match="cannot be used"):
        Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")


def test_a_locked_sqlite_file_is_waited_for_and_then_reported(tmp_path, monkeypatch):
    path = tmp_path / "rooms.sqlite3"
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)
    store = Store.open(f"sqlite:///{path}")
    room, _ = store.create_room(passage=0)
    store.join(room.code, "p1")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    began = time.monotonic()
    with pytest.raises(StoreError, match="locked"):
        store.record(room.code, 0, "p1", 0, 1, "")
    assert time.monotonic() - began >= 0.25  # it waited for the other writer first
    holder.execute("ROLLBACK")
    assert store.record(room.code, 0, "p1", 0, 1, "")  # and works once the lock is gone


def test_a_read_only_sqlite_file_is_reported_not_dropped(tmp_path):
    path = tmp_path / "rooms.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    room, _ = store.create_room(passage=0)
    store.join(room.code, "p1")
    store.engine.dispose()
    reader = Store(db.make_engine(f"sqlite:///file:{path}?mode=ro&uri=true"))
    with pytest.raises(StoreError, match="read-only|cannot be used"):
        reader.record(room.code, 0, "p1", 0, 1, "")
    assert Store.open(f"sqlite:///{path}").records(room.code) == []


# -- several processes


def write_all(url: str, code: str, players: list[str], positions: int, start, out) -> None:
    """In a process of its own: record every position for every player, as fast as it can."""
    store = Store.open(url)
    start.wait()
    new = 0
    for position in range(positions):
        for player in players:
            new += store.record(code, 0, player, position, 1 + position % 11, "")
    out.put(new)


def join_many(url: str, code: str, players: list[str], start, out) -> None:
    store = Store.open(url)
    start.wait()
    joined = 0
    for player in players:
        try:
            store.join(code, player)
            joined += 1
        except RoomFull:
            pass
    out.put(joined)


def run_processes(target, args_of, n: int) -> list:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(i), start, out)) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # every process has its engine before any writes
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return results


def test_several_processes_writing_one_room_lose_nothing_and_count_nothing_twice(url):
    store = Store.open(url)
    room, _ = store.create_room(passage=0)
    players = [f"p{i}" for i in range(3)]
    for p in players:
        store.join(room.code, p)
    # four processes each try to record every (player, position): each one lands exactly once
    new = run_processes(write_all, lambda i: (url, room.code, players, 40), 4)
    assert sum(new) == 3 * 40
    records = store.records(room.code)
    assert len(records) == 3 * 40 and len({(r.player, r.position) for r in records}) == 3 * 40


def test_several_processes_joining_at_once_never_overfill_a_room(url):
    store = Store.open(url)
    room, _ = store.create_room(passage=0, max_players=7)
    joined = run_processes(join_many, lambda i: (url, room.code, [f"q{i}-{n}" for n in range(4)]), 4)
    assert sum(joined) == 7 and len(store.players(room.code)) == 7


KILLED = """
import sys, time
from store.rooms import Store
store = Store.open(sys.argv[1])
code = sys.argv[2]
for position in range(1000):
    store.record(code, 0, "p1", position, 1, "")
    print(position, flush=True)
time.sleep(60)
"""


def test_what_was_committed_is_there_after_the_server_is_killed(url):
    store = Store.open(url)
    room, _ = store.create_room(passage=0)
    store.join(room.code, "p1")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, url, room.code], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    seen = -1
    while seen < 20:
        seen = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)  # mid-game, with no chance to clean up
    child.wait(10)
    store.engine.dispose()
    again = Store.open(url)
    positions = [r.position for r in again.records(room.code)]
    assert len(positions) >= seen + 1 and positions == list(range(len(positions)))
    assert again.next_position(room.code, 0, "p1") == len(positions)
