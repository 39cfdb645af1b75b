"""Many people typing at once: N sessions on one server, driving the live component as Chromium does.

    python -m bench.load [--sessions 1 10 30] [--path fast rerun] [--rate 4] [--seconds 20] [--pause-every N]
                         [--url URL --pids PID ...]

Each simulated session does what the page's live component does (ui/web/live.js): it opens the page over
Streamlit's own websocket (a full script run, with the text in the URL), then types at --rate characters a
second with one request out at a time; keys typed while a request is out go in the next one. Two paths:
- `fast`: requests go over the fast path's WebSocket (ui/fast.py, `{"text", "seq"}` in, a reply frame out),
  opened with the page's token and Origin as the browser does; a key's latency is until the reply that
  carries its text.
- `rerun`: requests go as the component's state, each a fragment rerun (the page's fallback, and the only path
  before the fast path); a key's latency is until the end of the first run that included it.
Every reply is checked: it must answer the text that was sent.
With --pause-every N a session pauses for 2 s after about every N keys (N give or take a quarter), and 600 ms
into each pause asks for the models' continuations, as the page's writer component does.
Errors are runs that end in an exception or an error status, error frames, wrong replies, and dropped or
refused connections. Opening: all sessions connect together; each is settled when its first reply (the page's
first run, and on the fast path the socket's first answer) has arrived. Typing starts when every session has
settled, as a class opens the page and then types: the opening storm and the typing are measured apart.
Server CPU per keystroke is from /proc over the typing, summed over every server process (per page opened:
over the opening), and split between the event loop (each process's main thread) and its other threads (the
fast path's worker, or a rerun's script thread). The load generator's own CPU is printed beside it: it runs on
the same cores, and where the two together use every core, the knee is the machine's, not the server's alone.
/_stcore/health is asked 4 times a second while they type, to show whether Streamlit's own traffic waits behind
the typing.

Without --url it starts `streamlit run app.py` in --root (default: this checkout) itself; with --url (and
--pids) it measures a server you started (for example scripts/serve.sh's nginx).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.common import ROOT, cpu_seconds, percentile, rss_mb, streamlit_server, summary
from ui.protocol import WRITER_PAUSE_MS

PAUSE = WRITER_PAUSE_MS / 1000  # seconds: the writer asks for continuations once typing has paused this long

PHRASES = [
    " and the king of Denmark is dead",
    " to be or not to be that is the question",
    " my kingdom for a horse",
    " friends, Romans, countrymen, lend me your ears",
    " now is the winter of our discontent",
]
OK = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class Session:
    def __init__(self, url: str, n: int, rate: float, seconds: float, pause_every: int, path: str = "rerun"):
        self.url, self.path = url, path
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.fast_socket = None
        # the browser's cookie travels with both sockets, so scripts/serve.sh's nginx keeps them on one process
        self.cookie = f"_streamlit_xsrf=bench{n}-{random.getrandbits(48):x}"
        self.static: dict = {}
        self.n, self.rate, self.seconds, self.pause_every = n, rate, seconds, pause_every
        self.writes: list[float] = []
        self.writer_id = self.writer_fragment = None
        self.text = "neuron"
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.opened: float | None = None
        self.widget_id = self.fragment_id = self.page_hash = None

    def write(self, text: str) -> bytes:
        """What the writer component sends once typing has paused for 600 ms: a trigger with the text."""
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = urllib.parse.urlencode({"text": self.text})
        widget = rerun.widget_states.widgets.add()
        widget.id = f"$$STREAMLIT_INTERNAL_KEY_{self.writer_id}__events"
        widget.json_trigger_value = json.dumps([{"event": "write", "value": text}])
        rerun.fragment_id = self.writer_fragment
        rerun.page_script_hash = self.page_hash
        return msg.SerializeToString()

    def rerun(self, text: str | None, seq: int = 0) -> bytes:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = urllib.parse.urlencode({"text": self.text})
        rerun.context_info.timezone = "UTC"
        rerun.context_info.locale = "en-US"
        if text is not None:
            widget = rerun.widget_states.widgets.add()
            widget.id = self.widget_id
            widget.json_value = json.dumps({"typed": {"text": text, "seq": seq, "has": self.static.get("key")}})
            rerun.fragment_id = self.fragment_id
            rerun.page_script_hash = self.page_hash
        return msg.SerializeToString()

    async def until_finished(self, ws) -> None:
        """Read messages until the current run ends; learn the live component's ids on the way."""
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "delta":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "exception":
                    self.errors.append(f"exception: {element.exception.message[:200]}")
                elif element.WhichOneof("type") == "bidi_component" and element.bidi_component.id.endswith("-live"):
                    self.widget_id, self.fragment_id = element.bidi_component.id, msg.delta.fragment_id
                    self.page_hash = msg.metadata.active_script_hash
                    data = json.loads(element.bidi_component.json)
                    self.shown = data["text"]
                    if "static" in data:
                        self.static = {"key": data["static_key"], **data["static"]}
                elif element.WhichOneof("type") == "bidi_component" and element.bidi_component.id.endswith("-writer"):
                    self.writer_id, self.writer_fragment = element.bidi_component.id, msg.delta.fragment_id
            elif kind == "script_finished":
                if msg.script_finished not in OK:
                    self.errors.append(f"run ended with status {msg.script_finished}")
                return

    async def run(self, start: asyncio.Event, arrived, go: asyncio.Event) -> None:
        """Open the page, say so (`arrived`), and type once every session has opened (`go`)."""
        await start.wait()
        began = time.perf_counter()
        settled = False

        def opened() -> None:
            nonlocal settled
            self.opened, settled = time.perf_counter() - began, True
            arrived()

        try:
            async with websockets.connect(
                self.ws_url,
                subprotocols=["streamlit"],
                max_size=None,
                open_timeout=30,
                additional_headers={"Cookie": self.cookie},
            ) as ws:
                await ws.send(self.rerun(None))
                await self.until_finished(ws)
                if not self.widget_id:
                    self.errors.append("the live component never arrived")
                    return
                if self.path == "fast":
                    async with self.open_fast() as fast:
                        self.fast_socket = fast
                        await fast.send(json.dumps({"text": self.text, "seq": 0}))
                        await self.fast_reply(0)
                        opened()
                        await go.wait()
                        await self.type(ws)
                else:
                    opened()
                    await go.wait()
                    await self.type(ws)
        except (TimeoutError, OSError, websockets.WebSocketException) as e:
            self.errors.append(f"connection: {type(e).__name__}: {e}")
        finally:
            if not settled:
                arrived()  # a session that failed to open does not hold the others back

    def open_fast(self):
        """The fast path's socket, as the page opens it: beside the page, with its token and Origin."""
        route = self.static["protocol"]["fast_route"]
        query = urllib.parse.urlencode({"token": self.static.get("token", "")})
        url = f"{self.url.replace('http', 'ws', 1)}/{route}?{query}"
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlparse(self.url))
        return websockets.connect(
            url, max_size=None, open_timeout=10, origin=origin, additional_headers={"Cookie": self.cookie}
        )

    async def fast_reply(self, seq: int) -> None:
        """Frames until the reply to request `seq`; an error frame counts as an error."""
        while True:
            frame = json.loads(await self.fast_socket.recv())
            if frame.get("type") == "error":
                self.errors.append(f"error frame: {frame.get('problem')}")
            elif frame.get("seq", -1) >= seq:
                self.shown = frame["text"]
                return

    def schedule(self) -> list[float]:
        """When each key lands, in seconds from the start: steady, with a 2 s pause after about every
        pause_every keys (give or take a quarter, so that a class does not pause in unison)."""
        times, t = [], 0.0
        jitter = random.Random(self.n)
        next_pause = self.pause_every + jitter.randint(-self.pause_every // 4, self.pause_every // 4)
        while t < self.seconds:
            times.append(t)
            t += 1 / self.rate
            if self.pause_every and len(times) == next_pause:
                t += 2.0
                next_pause += self.pause_every + jitter.randint(-self.pause_every // 4, self.pause_every // 4)
        return times

    async def type(self, ws) -> None:
        """Keys on schedule; at most one request out; each key's latency to the run that covered it. In a
        pause the writer asks for continuations, as the page does 600 ms after the last key."""
        phrase = PHRASES[self.n % len(PHRASES)] * 20
        await asyncio.sleep(random.random() / self.rate)  # sessions do not type in lockstep
        keys = self.schedule()
        t0, seq, pending, i, written_for = time.perf_counter(), 0, [], 0, self.text
        waiting, covered, asked = None, [], None
        while i < len(keys) or pending or waiting is not None or (self.pause_every and written_for != self.text):
            now = time.perf_counter() - t0
            while i < len(keys) and now >= keys[i]:
                self.text += phrase[i % len(phrase)]
                pending.append(t0 + keys[i])
                i += 1
            last_key = keys[i - 1] if i else 0.0
            if waiting is None and pending:
                seq += 1
                self.sent, covered, pending, asked = self.text, pending, [], None
                if self.fast_socket is not None:
                    await self.fast_socket.send(json.dumps({"text": self.text, "seq": seq}))
                    waiting = asyncio.ensure_future(self.fast_reply(seq))
                else:
                    await ws.send(self.rerun(self.text, seq))
                    waiting = asyncio.ensure_future(self.until_finished(ws))
            elif waiting is None and self.pause_every and written_for != self.text and now - last_key >= PAUSE:
                written_for, asked, covered = self.text, time.perf_counter(), []
                await ws.send(self.write(self.text))
                waiting = asyncio.ensure_future(self.until_finished(ws))
            until_next = keys[i] - now if i < len(keys) else PAUSE
            if waiting is None:
                await asyncio.sleep(max(0.005, min(until_next, last_key + PAUSE - now if self.pause_every else 1)))
                continue
            done, _ = await asyncio.wait({waiting}, timeout=max(0.005, until_next) if i < len(keys) else 30)
            if waiting in done:
                waiting.result()
                finished = time.perf_counter()
                if asked is not None:
                    self.writes.append((finished - asked) * 1000)
                elif self.shown != self.sent:
                    self.errors.append(f"the reply showed {self.shown[-20:]!r}, not {self.sent[-20:]!r}")
                self.latencies += [(finished - k) * 1000 for k in covered]
                waiting = None


def health_ms(url: str) -> float | None:
    began = time.perf_counter()
    try:
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read()
    except OSError:
        return None
    return (time.perf_counter() - began) * 1000


async def probe_health(url: str, stop: asyncio.Event, out: list[float]) -> None:
    """Streamlit's own traffic under the load: /_stcore/health 4 times a second (in a thread, so the probe
    does not wait on this generator's own event loop)."""
    while not stop.is_set():
        ms = await asyncio.to_thread(health_ms, url)
        out.append(float("inf") if ms is None else ms)
        await asyncio.sleep(0.25)


async def simulate(
    url: str, sessions: int, rate: float, seconds: float, pause_every: int, pids: list[int], path: str = "rerun"
) -> dict:
    start, go, stop, everyone = asyncio.Event(), asyncio.Event(), asyncio.Event(), asyncio.Event()
    count = [0]

    def arrived() -> None:
        count[0] += 1
        if count[0] == sessions:
            everyone.set()

    users = [Session(url, n, rate, seconds, pause_every, path) for n in range(sessions)]
    tasks = [asyncio.create_task(u.run(start, arrived, go)) for u in users]
    health: list[float] = []
    cpu0 = sum(cpu_seconds(p) for p in pids)
    start.set()
    await everyone.wait()  # the class has opened the page; now everyone types
    cpu_open = sum(cpu_seconds(p) for p in pids) - cpu0
    prober = asyncio.create_task(probe_health(url, stop, health))
    cpu0 = sum(cpu_seconds(p) for p in pids)
    loop0 = sum(cpu_seconds(p, thread=p) for p in pids)
    own0 = time.process_time()
    go.set()
    typing_began = time.perf_counter()
    await asyncio.gather(*tasks)
    typed = time.perf_counter() - typing_began
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    loop = sum(cpu_seconds(p, thread=p) for p in pids) - loop0
    own = time.process_time() - own0
    stop.set()
    await prober
    latencies = [x for u in users for x in u.latencies]
    return {
        "opened": [u.opened for u in users if u.opened is not None],
        "latencies": latencies,
        "writes": [x for u in users for x in u.writes],
        "errors": [e for u in users for e in u.errors],
        "cpu_per_key": cpu / max(1, len(latencies)) * 1000,
        "loop_per_key": loop / max(1, len(latencies)) * 1000,
        "own_per_key": own / max(1, len(latencies)) * 1000,
        "typing_seconds": typed,
        "cpu_open": cpu_open / max(1, sessions) * 1000,
        "health": health,
        "rss": sum(rss_mb(p) for p in pids),
    }


def report(sessions: int, rate: float, r: dict, path: str = "rerun") -> None:
    print(f"== {sessions} sessions typing at {rate:g} chars/s, {path} path")
    if r["opened"]:
        print(f"  opening together, to settled: {summary(r['opened'], 's')}")
    if r["latencies"]:
        print(f"  key to the reply with its text: {summary(r['latencies'])}")
    if r["writes"]:
        print(f"  continuations (3 models, after a pause): {summary(r['writes'])}")
    print(f"  errors: {len(r['errors'])}" + (f" (first: {r['errors'][0]})" if r["errors"] else ""))
    print(f"  server CPU per keystroke: {r['cpu_per_key']:.2f} ms; per page opened: {r['cpu_open']:.0f} ms")
    # Streamlit's event loop runs on the main thread: the sockets' frames in and out, and the hand-offs; the
    # fast path's worker thread (the replies: models and the rest) and a rerun's script thread are others
    rest = r["cpu_per_key"] - r["loop_per_key"]
    print(f"    of which the event loop (main thread) {r['loop_per_key']:.2f} ms, other threads {rest:.2f} ms")
    # it shares the cores: where server and generator together use them all, the knee is the machine's
    cores = (r["cpu_per_key"] + r["own_per_key"]) * len(r["latencies"]) / 1000 / r["typing_seconds"]
    print(f"  load generator's own CPU per keystroke: {r['own_per_key']:.1f} ms; both together {cores:.2f} cores")
    print(f"  server memory after the sessions closed: {r['rss']:.0f} MB")
    if r["health"]:
        print(f"  /_stcore/health meanwhile:      {summary(r['health'])}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30, 60, 100])
    parser.add_argument("--path", nargs="+", choices=["fast", "rerun"], default=["fast", "rerun"])
    parser.add_argument("--rate", type=float, default=4.0, help="characters a second per session")
    parser.add_argument("--seconds", type=float, default=20.0, help="typing time per round")
    parser.add_argument("--pause-every", type=int, default=0, help="pause 2 s after every N keys (0: never)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py is served")
    parser.add_argument("--url", help="a running server (default: start `streamlit run app.py`)")
    parser.add_argument("--pids", type=int, nargs="*", default=[], help="its processes, for CPU and memory")
    args = parser.parse_args(argv)
    random.seed(0)

    def rounds(url: str, pids: list[int]) -> None:
        for path in args.path:
            for n in args.sessions:
                result = asyncio.run(simulate(url, n, args.rate, args.seconds, args.pause_every, pids, path))
                report(n, args.rate, result, path)
                if result["latencies"]:
                    print(f"  p95 {percentile(result['latencies'], 95):.0f} ms")

    if args.url:
        rounds(args.url, args.pids)
        return
    with streamlit_server(args.root) as (url, server):
        rounds(url, [server.pid])


if __name__ == "__main__":
    main()
