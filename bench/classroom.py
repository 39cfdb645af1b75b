"""A class in one room of the guessing game: N students join by the room's link and guess, each once every 1.5 s,
through a real server and the page's own way of sending a guess: over the game's socket (ui/guess_path.py), as
ui/web/guess.js does once it has opened, or with --path rerun as the board component's state over Streamlit's
WebSocket, which reruns the board's fragment (the page's way when the socket cannot open).

    python -m bench.classroom [--students 30 60 100 150] [--repeat 2] [--seconds 45] [--store sqlite|postgresql]
                              [--processes 1|2] [--projectors 0 2] [--path socket|rerun] [--box MB CORES]
                              [--baseline-root DIR] [--json FILE]

For each number of students: a teacher's room is opened in the store, the students open the page together and say
who they are (as a page does on its first visit, taking the id the server offers), and the time until the last one
has the passage is taken; then they guess for --seconds. A guess's latency is from sending the message that carries
it to receiving the board with that guess judged (its `seq`). Each student guesses right about half the time, else
a wrong character not tried yet at that position. At the end the room's records are read back from the store: every
character a student saw revealed must be there once (`sent`, `stored`, `doubled`). With --projectors, each number
of students is also played with that many projector views open (views/projector.py, refreshed as a browser does,
every second): `projector_lag_p95_s` is from a character's judged reply to a view showing it.

--store postgresql needs a database: --db-url, or the PG* variables `pg_virtualenv` sets. --processes 2 serves
through scripts/serve.sh (nginx in front of two processes sharing the store). --box runs the server in a cgroup
of that size (bench/box.py; needs root). --baseline-root serves another checkout (the commit before the room) to
the same students playing alone, for the server CPU per guess without the store, in the same run (a guess is a
rerun there); --alone plays them alone on the server under test too, the same way as in the room.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.common import ROOT, NotHealthy, cpu_seconds, free_ports, percentile, streamlit_server, summary, wait_healthy
from bench.load import OK as FINISHED

# a run the board ends with st.rerun (the page redraws around it) is as good as one that ran to the end
OK = FINISHED | {ForwardMsg.FINISHED_EARLY_FOR_RERUN}

EVERY = 1.5  # seconds between one student's guesses
REFRESH = 1.0  # a projector view's refresh, as ui/projector.REFRESH
RIGHT = 0.5  # how often a student's guess is right
WRONG_POOL = "etaoinshrdlucmfwypvbgkqjxz ,.;'"
NOT_SAVED = "Not saved for the class"  # the start of i18n/en.json's room.not_saved


def page_socket(ws_url: str, cookie: str):
    """A page's connection to Streamlit's WebSocket, as a browser opens it (its cookie keeps it on one process
    behind serve.sh)."""
    return websockets.connect(
        ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60, additional_headers={"Cookie": cookie}
    )


class Student:
    def __init__(self, url: str, n: int, room: str | None, seed: int, path: str = "socket"):
        self.url, self.n, self.room, self.seed, self.path = url, n, room, seed, path
        self.link = None  # the game's socket, once open
        self.fallbacks = 0  # sockets that closed under this student, who then went on by reruns, as the page does
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.cookie = f"_streamlit_xsrf=class{n}-{random.getrandbits(48):x}"
        self.player: str | None = None  # a first visit: the id the page takes is the one the server offers
        self.rng = random.Random(n)
        self.board_id = self.fragment_id = self.page_hash = None
        self.data: dict = {}
        self.seq = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.opened: float | None = None
        self.revealed = 0  # characters this student saw revealed
        self.reveal_times: list[float] = []  # when each reveal's judged reply arrived (perf_counter)
        self.sent = 0
        self.text = passage_text(seed)

    def query(self) -> str:
        return urllib.parse.urlencode({"room": self.room} if self.room else {"seed": self.seed})

    def message(self, state: dict | None = None) -> bytes:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query()
        rerun.page_name = "Guess"
        rerun.context_info.timezone = "UTC"
        rerun.context_info.locale = "en-US"
        if self.page_hash:
            rerun.page_script_hash = self.page_hash
        if state is not None:
            widget = rerun.widget_states.widgets.add()
            widget.id = self.board_id
            widget.json_value = json.dumps(state)
            rerun.fragment_id = self.fragment_id
        return msg.SerializeToString()

    def state(self, guess: str | None = None, synced: int | None = None) -> dict:
        out: dict = {"who": {"player": self.player, "keys": {}}} if self.room else {}
        if guess is not None:
            out["typed"] = {"guess": guess, "seq": self.seq}
        if synced is not None:
            out["synced"] = synced
        return out

    async def until_finished(self, ws, idle: float = 0.0) -> None:
        """Messages until a run ends (and, with `idle`, until none came for that long: a run that reruns the
        page, as the board does the first time a page says who it is)."""
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=idle or 60)
            except TimeoutError:
                if idle:
                    return
                raise
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "exception":
                    self.errors.append(f"exception: {element.exception.message[:200]}")
                elif element.WhichOneof("type") == "bidi_component" and element.bidi_component.id.endswith(
                    "guess_board"
                ):
                    self.board_id, self.fragment_id = element.bidi_component.id, msg.delta.fragment_id
                    self.page_hash = msg.metadata.active_script_hash or self.page_hash
                    self.judged(json.loads(element.bidi_component.json))
            elif kind == "script_finished":
                if msg.script_finished not in OK:
                    self.errors.append(f"run ended with status {msg.script_finished}")
                if not idle:
                    return

    def judged(self, data: dict) -> None:
        if NOT_SAVED in (data.get("message") or ""):  # the page says a character was not kept for the class
            self.errors.append(f"board: {data['message'][:200]}")
        before = len(self.data.get("shown", "")) if self.data else None
        if before is not None and len(data["shown"]) > before:
            self.revealed += len(data["shown"]) - before
            self.reveal_times += [time.perf_counter()] * (len(data["shown"]) - before)
        self.data = data

    async def run(self, start: asyncio.Event, arrived, go: asyncio.Event, seconds: float) -> None:
        await start.wait()
        began = time.perf_counter()
        told = False  # whether this student has told the class it arrived (or gave up): the class waits for all
        try:
            async with page_socket(self.ws_url, self.cookie) as ws:
                await ws.send(self.message())
                await self.until_finished(ws)
                if not self.board_id:
                    self.errors.append("the board never arrived")
                    return  # `arrived` below, in finally
                if self.room:  # the page says who it is (the board joins the room; a page not offered it redraws)
                    self.player = self.data.get("offer") or secrets.token_hex(16)
                    await ws.send(self.message(self.state()))
                    await self.until_finished(ws, idle=0.5)
                    # the board carries the socket's link once it has this player (a busy server may take longer)
                    for _ in range(20):
                        if self.path != "socket" or "link" in self.data:
                            break
                        await self.until_finished(ws, idle=0.5)
                    if self.data.get("room") != self.room:
                        self.errors.append(f"not in the room: {self.data.get('room')}")
                if self.path == "socket" and "link" not in self.data:  # not yet: the page guesses by reruns
                    self.fallbacks += 1
                async with contextlib.AsyncExitStack() as stack:
                    if self.path == "socket" and "link" in self.data:  # the page opens the game's socket
                        link = self.data["link"]
                        route = f"{self.ws_url.rsplit('/_stcore/', 1)[0]}/{link['route']}?token={link['token']}"
                        self.link = await stack.enter_async_context(game_socket(route, self.cookie))
                        await self.link.send(json.dumps({"seq": self.seq}))
                        await self.frame(self.seq)
                    self.opened = time.perf_counter() - began - (0.5 if self.room else 0.0)
                    arrived()
                    told = True
                    await go.wait()
                    await asyncio.sleep(self.rng.uniform(0, EVERY))  # a class does not guess in unison
                    end = time.perf_counter() + seconds
                    while time.perf_counter() < end and not self.data.get("done"):
                        at = time.perf_counter()
                        await self.guess(ws)
                        await asyncio.sleep(max(0.0, EVERY - (time.perf_counter() - at)))
        except (TimeoutError, OSError, websockets.WebSocketException) as e:
            self.errors.append(f"connection: {type(e).__name__}: {e}")
        except Exception as e:  # a page that answered something unexpected: said, and the class goes on
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            if not told:
                arrived()

    async def guess(self, ws) -> None:
        text_so_far = self.data["shown"]
        tried = set(self.data.get("wrong", []))
        if self.rng.random() < RIGHT or len(tried) >= 8:
            ch = self.answer(len(text_so_far))
        else:
            ch = next((c for c in self.rng.sample(WRONG_POOL, len(WRONG_POOL)) if c not in tried), "~")
            if ch == self.answer(len(text_so_far)):
                ch = "~"
        self.seq += 1
        self.sent += 1
        began = time.perf_counter()
        if self.link is not None:
            try:
                await self.link.send(json.dumps({"guess": ch, "seq": self.seq}))
                rerun = await self.frame(self.seq)
            except websockets.ConnectionClosed:  # as the page does: the guess goes again by a rerun, same seq
                self.link = None
                self.fallbacks += 1
            else:
                self.latencies.append((time.perf_counter() - began) * 1000)
                if rerun:  # the page around the board changes (the passage ended): the page asks for a run
                    await ws.send(self.message(self.state(synced=self.seq)))
                    await self.until_finished(ws, idle=0.3)
                return
        await ws.send(self.message(self.state(ch)))
        while self.data.get("seq", 0) < self.seq:
            await self.until_finished(ws)
        self.latencies.append((time.perf_counter() - began) * 1000)
        if self.data.get("done"):  # the passage is over: the page redraws around the board
            await self.until_finished(ws, idle=0.3)

    async def frame(self, seq: int) -> bool:
        """Frames from the game's socket until the board that has judged `seq`; whether it asks for a run."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.link.recv(), timeout=60))
            if frame["type"] == "error":
                self.errors.append(f"socket: {frame['problem'][:200]}")
                if frame.get("seq") == seq:
                    return False
                continue
            self.judged(frame["board"])
            if frame["board"]["seq"] >= seq:
                return frame["rerun"]

    def answer(self, position: int) -> str:
        return self.text[position] if position < len(self.text) else "~"


def game_socket(url: str, cookie: str):
    """The game's socket, as the page opens it (with its cookie, which keeps it on the page's process behind
    serve.sh)."""
    return websockets.connect(url, max_size=None, open_timeout=60, additional_headers={"Cookie": cookie})


class Projector:
    """A projector view as a browser keeps it: the page once, the teacher's key from the view's component, then
    a rerun of its fragment every REFRESH seconds (Streamlit's run_every is driven by the page), noting when each
    count of recorded characters (the view's `recorded`) was first shown."""

    def __init__(self, url: str, room: str, key: str):
        self.url, self.room, self.key = url, room, key
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.cookie = f"_streamlit_xsrf=wall-{random.getrandbits(48):x}"
        self.component_id = self.fragment_id = self.page_hash = None
        self.seen: dict[int, float] = {}  # recorded count -> when the view first showed it
        self.errors: list[str] = []

    def message(self, state: dict | None = None, auto: bool = False) -> bytes:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = urllib.parse.urlencode({"room": self.room})
        rerun.page_name = "Projector"
        if self.page_hash:
            rerun.page_script_hash = self.page_hash
        if state is not None:
            widget = rerun.widget_states.widgets.add()
            widget.id = self.component_id
            widget.json_value = json.dumps(state)
        if self.fragment_id and (state is not None or auto):
            rerun.fragment_id = self.fragment_id
            rerun.is_auto_rerun = auto
        return msg.SerializeToString()

    async def until_finished(self, ws, idle: float = 0.0) -> None:
        """Messages until a run ends (with `idle`, until none came for that long: the view's first run with the
        key reruns the whole page, for the teacher's controls)."""
        while True:
            msg = ForwardMsg()
            try:
                msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=idle or 60))
            except TimeoutError:
                if idle:
                    return
                raise
            kind = msg.WhichOneof("type")
            if kind == "delta":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "bidi_component" and "projector" in element.bidi_component.id:
                    self.component_id, self.fragment_id = element.bidi_component.id, msg.delta.fragment_id
                    self.page_hash = msg.metadata.active_script_hash or self.page_hash
                    summary = json.loads(element.bidi_component.json).get("summary")
                    if summary is not None:
                        self.seen.setdefault(summary["recorded"], time.perf_counter())
            elif kind == "script_finished":
                if msg.script_finished not in OK:
                    self.errors.append(f"run ended with status {msg.script_finished}")
                if not idle:
                    return

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with page_socket(self.ws_url, self.cookie) as ws:
                await ws.send(self.message())
                await self.until_finished(ws)
                await ws.send(self.message({"key": self.key}))
                await self.until_finished(ws, idle=0.7)
                # the page asks for a rerun every REFRESH seconds (a setInterval), whether or not the last is done;
                # here the next waits for the last to finish when it runs late
                sent = time.perf_counter()
                while not stop.is_set():
                    await asyncio.sleep(max(0.0, sent + REFRESH - time.perf_counter()))
                    sent = time.perf_counter()
                    await ws.send(self.message(auto=True))
                    await self.until_finished(ws)
        except (TimeoutError, OSError, websockets.WebSocketException) as e:
            self.errors.append(f"connection: {type(e).__name__}: {e}")

    def lags(self, reveals: list[float]) -> list[float]:
        """For the k-th character revealed (in the order the students saw them), seconds until the view first
        showed k or more recorded."""
        shown = sorted(self.seen.items())
        out = []
        for k, at in enumerate(sorted(reveals), 1):
            first = next((when for count, when in shown if count >= k), None)
            if first is not None:
                out.append(max(0.0, first - at))
        return out


def passage_text(index: int) -> str:
    from core.guess import load_passages
    from core.models import SHIPPED_DIR

    global _TEXTS
    if _TEXTS is None:
        _TEXTS = load_passages(SHIPPED_DIR).texts
    return _TEXTS[index % len(_TEXTS)]


_TEXTS: list[str] | None = None


async def class_round(
    url: str,
    students: int,
    room: str | None,
    passage: int,
    seconds: float,
    pids: list[int],
    walls: list[str] = (),
    key: str = "",
    path: str = "socket",
):
    class_ = [Student(url, n, room, passage, path) for n in range(students)]
    views = [Projector(wall, room, key) for wall in walls]
    stop = asyncio.Event()
    watching = [asyncio.create_task(v.run(stop)) for v in views]
    await asyncio.sleep(2 * REFRESH if views else 0)
    start, go = asyncio.Event(), asyncio.Event()
    arrived_count = [0]

    def arrived() -> None:
        arrived_count[0] += 1
        if arrived_count[0] == students:
            go.set()

    tasks = [asyncio.create_task(s.run(start, arrived, go, seconds)) for s in class_]
    began = time.perf_counter()
    start.set()
    await go.wait()
    joined = time.perf_counter() - began
    cpu0, own0, t0 = sum(cpu_seconds(p) for p in pids), time.process_time(), time.perf_counter()
    await asyncio.gather(*tasks)
    cpu1, own1, t1 = sum(cpu_seconds(p) for p in pids), time.process_time(), time.perf_counter()
    await asyncio.sleep(3 * REFRESH if views else 0)  # the last guesses reach the wall
    stop.set()
    await asyncio.gather(*watching)
    reveals = [at for s in class_ for at in s.reveal_times]
    lags = [lag for v in views for lag in v.lags(reveals)]
    latencies = [x for s in class_ for x in s.latencies]
    guesses = sum(s.sent for s in class_)
    return {
        "students": students,
        "path": path,
        "joined_s": joined,
        "latencies": latencies,
        "guess_p95_ms": percentile(latencies, 95) if latencies else None,
        "guess_median_ms": percentile(latencies, 50) if latencies else None,
        "guesses": guesses,
        "revealed": sum(s.revealed for s in class_),
        "players": [s.player for s in class_],
        "seen": {s.player: s.revealed for s in class_},
        "errors": [e for s in class_ for e in s.errors][:20],
        "error_count": sum(len(s.errors) for s in class_),
        "fallbacks": sum(s.fallbacks for s in class_),
        "cpu_ms_per_guess": (cpu1 - cpu0) * 1000 / max(1, guesses),
        "projectors": len(views),
        "projector_lag_p95_s": percentile(lags, 95) if lags else None,
        "projector_errors": [e for v in views for e in v.errors][:5],
        "server_cores": (cpu1 - cpu0) / (t1 - t0),
        # the load generator shares the cores: where it and the server together use both, the knee is the machine's
        "generator_cores": (own1 - own0) / (t1 - t0),
    }


def check_store(db_url: str, room: str, players: list[str], revealed: int, seen: dict[str, int]) -> dict:
    """What the store holds of the students' revealed characters; `missing`: students with fewer stored than they
    saw revealed (how many each)."""
    from store.rooms import Store

    store = Store.open(db_url)
    records = [r for r in store.records(room) if r.player in set(players)]
    keys = {(r.player, r.passage, r.position) for r in records}
    store.engine.dispose()
    stored = {p: 0 for p in players}
    for r in records:
        stored[r.player] += 1
    missing = {p: seen[p] - n for p, n in stored.items() if n < seen.get(p, 0)}
    return {"sent": revealed, "stored": len(records), "doubled": len(records) - len(keys), "missing": missing}


@contextlib.contextmanager
def served(root: Path, processes: int, env: dict, prefix: tuple[str, ...] = ()):
    """(url, server pids): one `streamlit run`, or scripts/serve.sh with two behind nginx."""
    if processes == 1:
        with streamlit_server(root, env=env, prefix=prefix) as (url, proc):
            yield url, [proc.pid]
        return
    from bench.training_load import descendants

    port = free_ports(processes + 1)  # nginx, then each process
    proc = subprocess.Popen(
        ["bash", "scripts/serve.sh", str(processes)], cwd=root, env={**os.environ, **env, "PORT": str(port)},
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 120, proc)
        pids = [p for p in descendants(proc.pid) if b"streamlit" in Path(f"/proc/{p}/cmdline").read_bytes()]
        yield url, pids
    except NotHealthy as e:
        raise SystemExit(f"serve.sh: {e}: {proc.stderr.read().decode()[-2000:]}") from None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def database_url(kind: str, given: str | None, folder: Path) -> str:
    if given:
        return given
    if kind == "sqlite":
        return f"sqlite:///{folder / 'classroom.sqlite3'}"
    env = os.environ
    if not env.get("PGHOST"):
        raise SystemExit("--store postgresql needs --db-url, or run inside pg_virtualenv")
    return (
        f"postgresql+psycopg://{env.get('PGUSER', 'postgres')}:{env.get('PGPASSWORD', '')}@{env['PGHOST']}:"
        f"{env['PGPORT']}/{env.get('PGDATABASE', 'postgres')}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[30, 60, 100, 150])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=45.0, help="guessing time per round")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db-url", help="the store's URL (default: a new SQLite file, or pg_virtualenv's)")
    parser.add_argument("--processes", type=int, choices=[1, 2], default=1)
    parser.add_argument("--projectors", type=int, nargs="+", default=[0], help="projector views open, each a round")
    parser.add_argument(
        "--path", choices=["socket", "rerun"], default="socket", help="how a guess is sent (default: the socket)"
    )
    parser.add_argument("--box", nargs=2, type=float, metavar=("MB", "CORES"), help="serve in a cgroup (root)")
    parser.add_argument("--baseline-root", type=Path, help="a checkout without rooms: students play alone there")
    parser.add_argument("--alone", action="store_true", help="also each number of students playing alone")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import tempfile

    from store.rooms import Store

    folder = Path(tempfile.mkdtemp(prefix="classroom-"))
    db_url = database_url(args.store, args.db_url, folder)
    env = {"UNROLLED_DB_URL": db_url, "UNROLLED_TRAIN_WORKERS": "0"}
    runs = []
    box = None
    prefix: tuple[str, ...] = ()
    if args.box:
        from bench.box import Box

        box = Box("unrolled-classroom", int(args.box[0]), args.box[1]).__enter__()
        prefix = box.enter
    try:
        with served(args.root, args.processes, env, prefix) as (url, pids):
            store = Store.open(db_url)
            for students in args.students:
                for attempt in range(args.repeat):
                    for projectors in args.projectors:
                        passage = 7 + attempt
                        room, key = store.create_room(passage=passage, max_players=max(60, students))
                        walls = [url] * projectors
                        result = asyncio.run(
                            class_round(url, students, room.code, passage, args.seconds, pids, walls, key, args.path)
                        )
                        result |= check_store(
                            db_url, room.code, result.pop("players"), result["revealed"], result.pop("seen")
                        )
                        result |= {"store": args.store, "processes": args.processes}
                        if box:
                            result["box"] = {"memory_mb": int(args.box[0]), "cores": args.box[1]}
                        runs.append(result)
                        report(result)
                if args.alone:  # the same students on the same server, each playing alone: no store
                    result = asyncio.run(class_round(url, students, None, 7, args.seconds, pids, path=args.path))
                    result.pop("players"), result.pop("seen")
                    result |= {"store": None, "processes": args.processes, "alone": True}
                    runs.append(result)
                    report(result, "alone on the same server, no store")
        if args.baseline_root:  # a checkout from before the game's socket: a guess is a rerun there
            with served(args.baseline_root, 1, env) as (url, pids):
                for students in args.students:
                    result = asyncio.run(class_round(url, students, None, 7, args.seconds, pids, path="rerun"))
                    result.pop("players"), result.pop("seen")
                    result |= {"store": None, "processes": 1, "baseline": str(args.baseline_root)}
                    runs.append(result)
                    report(result, "alone, no store (baseline)")
    finally:
        if box:
            box.__exit__(None, None, None)
            for r in runs:
                if "box" in r:
                    r["box"] |= {"peak_mb": box.peak_mb, "oom_kills": box.oom_kills_in_run}
    for r in runs:
        r.pop("latencies", None)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs}, indent=1) + "\n")


def report(r: dict, what: str | None = None) -> None:
    where = what or f"{r['store']}, {r['processes']} process(es)"
    print(f"== {r['students']} students, {where}, {r.get('projectors', 0)} projector views, via {r.get('path')}")
    print(f"  all joined and had the passage after {r['joined_s']:.1f} s")
    if r["latencies"]:
        print(f"  guess to judged reply: {summary(r['latencies'])}")
    print(f"  guesses {r['guesses']}, errors {r['error_count']} {r['errors'][:2]}, back to reruns {r['fallbacks']}")
    print(f"  server CPU per guess {r['cpu_ms_per_guess']:.1f} ms ({r['server_cores']:.2f} cores)")
    if "generator_cores" in r:
        print(f"  the load generator's own CPU: {r['generator_cores']:.2f} cores (one is all it can use)")
    if "stored" in r:
        print(f"  revealed {r['sent']}, in the store {r['stored']}, doubled {r['doubled']}, missing {r['missing']}")
    if r.get("projectors"):
        lag = r["projector_lag_p95_s"]
        print(f"  {r['projectors']} projector views: a revealed character on the wall within p95 {lag:.2f} s")


if __name__ == "__main__":
    main()
