"""Many people typing at once: N sessions on one server, over Streamlit's own websocket protocol.

    python -m bench.load [--sessions 1 10 30] [--rate 4] [--seconds 20] [--pause-every N] [--url URL]

Each simulated session does what the page's live component does (ui/web/live.js): it opens the page (a full
script run, with the text in the URL), then types at --rate characters a second, sending the box's text as the
component's state with one request out at a time; keys typed while a request is out go in the next one.
A keystroke's latency is from the key to the end of the first run that included it (`script_finished`).
With --pause-every N a session pauses for 2 s after about every N keys (N give or take a quarter), and 600 ms
into each pause asks for the models' continuations, as the page's writer component does: 200 characters from
each of the three models.
Errors are runs that end in an exception or an error status, and dropped or refused connections.
Opening: all sessions connect together; each is settled when its first full run has finished.
Server CPU per keystroke is from /proc over the typing phase, summed over every server process.

Without --url it starts `streamlit run app.py` in --root (default: this checkout) itself; with --url (and
--pids) it measures a server you started. A --root whose page still has the old live `st.text_input` (key
"text") is driven through that widget instead, so an older commit can be measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import urllib.parse
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.common import ROOT, cpu_seconds, percentile, rss_mb, streamlit_server, summary

PHRASES = [
    " and the king of Denmark is dead",
    " to be or not to be that is the question",
    " my kingdom for a horse",
    " friends, Romans, countrymen, lend me your ears",
    " now is the winter of our discontent",
]
OK = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class Session:
    def __init__(self, url: str, n: int, rate: float, seconds: float, pause_every: int):
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.n, self.rate, self.seconds, self.pause_every = n, rate, seconds, pause_every
        self.writes: list[float] = []
        self.writer_id = self.writer_fragment = None
        self.text_input = False
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
            if self.text_input:  # the page as it was before the live component: a live st.text_input
                widget.string_value = text
            else:
                widget.json_value = json.dumps({"typed": {"text": text, "seq": seq}})
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
                    self.shown = json.loads(element.bidi_component.json)["text"]
                elif element.WhichOneof("type") == "text_input" and element.text_input.id.endswith("-text"):
                    self.widget_id, self.fragment_id = element.text_input.id, msg.delta.fragment_id
                    self.page_hash, self.text_input = msg.metadata.active_script_hash, True
                elif element.WhichOneof("type") == "bidi_component" and element.bidi_component.id.endswith("-writer"):
                    self.writer_id, self.writer_fragment = element.bidi_component.id, msg.delta.fragment_id
            elif kind == "script_finished":
                if msg.script_finished not in OK:
                    self.errors.append(f"run ended with status {msg.script_finished}")
                return

    async def run(self, start: asyncio.Event) -> None:
        await start.wait()
        began = time.perf_counter()
        try:
            async with websockets.connect(
                self.ws_url,
                subprotocols=["streamlit"],
                max_size=None,
                open_timeout=30,
                additional_headers={"Cookie": f"_streamlit_xsrf=bench{self.n}-{random.getrandbits(48):x}"},
            ) as ws:
                await ws.send(self.rerun(None))
                await self.until_finished(ws)
                self.opened = time.perf_counter() - began
                if not self.widget_id:
                    self.errors.append("the live component never arrived")
                    return
                await self.type(ws)
        except (TimeoutError, OSError, websockets.WebSocketException) as e:
            self.errors.append(f"connection: {type(e).__name__}: {e}")

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
                await ws.send(self.rerun(self.text, seq))
                waiting = asyncio.ensure_future(self.until_finished(ws))
            elif waiting is None and self.pause_every and written_for != self.text and now - last_key >= 0.6:
                written_for, asked, covered = self.text, time.perf_counter(), []
                await ws.send(self.write(self.text))
                waiting = asyncio.ensure_future(self.until_finished(ws))
            until_next = keys[i] - now if i < len(keys) else 0.6
            if waiting is None:
                await asyncio.sleep(max(0.005, min(until_next, last_key + 0.6 - now if self.pause_every else 1)))
                continue
            done, _ = await asyncio.wait({waiting}, timeout=max(0.005, until_next) if i < len(keys) else 30)
            if waiting in done:
                waiting.result()
                finished = time.perf_counter()
                if asked is not None:
                    self.writes.append((finished - asked) * 1000)
                elif not self.text_input and self.shown != self.sent:
                    self.errors.append(f"the reply showed {self.shown[-20:]!r}, not {self.sent[-20:]!r}")
                self.latencies += [(finished - k) * 1000 for k in covered]
                waiting = None


async def simulate(url: str, sessions: int, rate: float, seconds: float, pause_every: int, pids: list[int]) -> dict:
    start = asyncio.Event()
    users = [Session(url, n, rate, seconds, pause_every) for n in range(sessions)]
    tasks = [asyncio.create_task(u.run(start)) for u in users]
    cpu0 = sum(cpu_seconds(p) for p in pids)
    start.set()
    await asyncio.gather(*tasks)
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    latencies = [x for u in users for x in u.latencies]
    return {
        "opened": [u.opened for u in users if u.opened is not None],
        "latencies": latencies,
        "writes": [x for u in users for x in u.writes],
        "errors": [e for u in users for e in u.errors],
        "cpu_per_key": cpu / max(1, len(latencies)) * 1000,
        "rss": sum(rss_mb(p) for p in pids),
    }


def report(sessions: int, rate: float, r: dict) -> None:
    print(f"== {sessions} sessions typing at {rate:g} chars/s")
    if r["opened"]:
        print(f"  opening together, to settled: {summary(r['opened'], 's')}")
    if r["latencies"]:
        print(f"  keystroke to run finished:    {summary(r['latencies'])}")
    if r["writes"]:
        print(f"  continuations (3 models, after a pause): {summary(r['writes'])}")
    print(f"  errors: {len(r['errors'])}" + (f" (first: {r['errors'][0]})" if r["errors"] else ""))
    print(f"  server CPU per keystroke: {r['cpu_per_key']:.1f} ms; server memory after: {r['rss']:.0f} MB")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--rate", type=float, default=4.0, help="characters a second per session")
    parser.add_argument("--seconds", type=float, default=20.0, help="typing time per round")
    parser.add_argument("--pause-every", type=int, default=0, help="pause 2 s after every N keys (0: never)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py is served")
    parser.add_argument("--url", help="a running server (default: start `streamlit run app.py`)")
    parser.add_argument("--pids", type=int, nargs="*", default=[], help="its processes, for CPU and memory")
    args = parser.parse_args(argv)
    random.seed(0)

    def rounds(url: str, pids: list[int]) -> None:
        for n in args.sessions:
            result = asyncio.run(simulate(url, n, args.rate, args.seconds, args.pause_every, pids))
            report(n, args.rate, result)
            if result["latencies"]:
                print(f"  p95 at most 500 ms: {percentile(result['latencies'], 95) <= 500}")

    if args.url:
        rounds(args.url, args.pids)
        return
    with streamlit_server(args.root) as (url, server):
        rounds(url, [server.pid])


if __name__ == "__main__":
    main()
