"""The live component's fast path: one WebSocket per page that answers keystrokes without a script rerun.

Why: a keystroke's model work (one step per model plus the lookahead) is about 2 ms, but a Streamlit fragment
rerun costs about 10 ms of GIL-bound CPU on top of it (a ScriptRunner thread, the deltas, `script_finished`).
While every keystroke was a rerun, one 2-core process topped out near 100 keys a second, about 25 people
typing (`python -m bench.load --path rerun`). Streamlit 1.67 serves on Starlette, and the `st.App` in app.py
takes our own routes beside its own, so this route shares the process, the loaded models and the port, and
`streamlit run app.py` stays the entry point. Nothing here touches a Streamlit session.

The messages are ui/protocol.py's: a request `{"text", "seq"}`, a reply frame `{"type": "reply", ...}` built by
`ui.live.reply` (the same function the rerun path uses), or `{"type": "error", "problem", "seq"}`. A page
whose socket cannot open or closes (a proxy that forwards only Streamlit's own paths) goes back to the rerun
path by itself (ui/web/live.js).

Every message is hostile until checked: a size cap before parsing, the protocol's shape check, the text cap,
a per-connection rate limit, upgrades refused from a foreign Origin or without the page's token, and a
bound on sockets per page and per process. Each connection's readings (the
checkpoints that make the next keystroke one model step) live in that connection's handler and go with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from streamlit import config
from threadpoolctl import threadpool_limits

from core.errors import UnrolledError
from core.models import Model, models_dir
from core.predict import Reading, read
from core.text import MAX_CHARS, cap
from core.train.backend import REGISTRY as TRAINED
from ui import live, panels
from ui.protocol import FAST_ROUTE, BadRequest, Request, parse_request

log = logging.getLogger(__name__)

# A request holds at most MAX_CHARS characters of text; in JSON each may take 12 (a \\ud83d\\ude00 pair).
MAX_MESSAGE = 12 * MAX_CHARS + 256
RATE, BURST = 50.0, 100  # messages a second per connection, and how many may come at once
# The page sends one request at a time and the next only when the reply lands, so even key repeat stays
# below RATE; a client that goes on past the limit for another BURST messages is cut off.
MAX_CONNECTIONS = 300  # per process: each holds at most three readings of MAX_CHARS (about 2 MB)
MAX_PER_PAGE = 4  # sockets one page's token may hold at once: the page uses one, a reconnect may overlap it
# Model work runs off the event loop, so Streamlit's own messages (the same loop) never wait behind a burst
# of keystrokes (/_stcore/health p95 6-9 ms under 100 typing sessions). One thread: two fought over the GIL
# for the Python half of each reply; at 100 sessions one thread took 2.7 ms of CPU per keystroke and p95
# 22 ms, two took 3.3 ms and p95 23 ms (`python -m bench.load --sessions 30 100 --path fast`). A paste of
# 1,000 characters holds it for about 85 ms. The thread is our own (Worker), not a ThreadPoolExecutor: waking
# a sleeping thread and back is most of a hand-off's cost on a small virtual machine, and the executor's
# futures add to it: a hand-off of a no-op and back, with 8 ms between them, cost 0.21 ms of CPU through the
# executor and 0.13 ms through a queue and a thread of our own (`python -m bench.handoff`).
# The lookahead over the likeliest next keys is about 60% of a reply's cost. When more requests wait than
# this, replies leave it out until the worker catches up: every key then waits for the server's reply, which
# at that load still comes sooner than a queue of full replies would (`python -m bench.load`).
SHED_AT = 2

CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_BUSY = 1008, 1009, 1013
UNANSWERED = "the server could not answer this request"  # an error frame's words when something else failed


def route_path(route: str = FAST_ROUTE) -> str:
    """One of our routes under server.baseUrlPath: Starlette does not prefix them as it does Streamlit's."""
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{route}" if base else route


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same origin as the page (the Host it was asked for), or listed in server.corsAllowedOrigins. A request
    without Origin is not from a browser page (browsers always send one on an upgrade), so no page can be
    made to send it on a learner's behalf."""
    if origin is None:
        return True
    parsed = urlparse(origin)
    if host and (parsed.netloc == host or (":" not in host and parsed.hostname == host.lower())):
        return True  # a proxy may pass the Host without its port (nginx's $host): then the names must match
    return origin.rstrip("/") in {o.strip().rstrip("/") for o in config.get_option("server.corsAllowedOrigins")}


@dataclass
class Bucket:
    """A token bucket: RATE messages a second, BURST at once."""

    tokens: float = BURST
    at: float = field(default_factory=time.monotonic)
    # refused since the bucket was last full: a client keeps flooding as long as it never lets it refill
    # (counting only refusals in a row let a flood through whenever a token trickled back between them)
    refused: int = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.at) * RATE)
        self.at = now
        if self.tokens >= BURST:
            self.refused = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False


class Worker:
    """The one thread that answers the fast path's messages, in the order they came. A job's reply goes back
    to the event loop with one call_soon_threadsafe."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.run, name="unrolled-fast", daemon=True)
        self.thread.start()

    def submit(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, *args) -> None:
        self.jobs.put((loop, future, args))

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            loop, future, args = job
            try:
                reply = work(*args)
            except Exception:  # answer() keeps its own; whatever else happens, the thread stays up
                log.exception("fast path: a job failed")
                reply = dumps({"type": "error", "problem": UNANSWERED, "seq": None})
            try:
                loop.call_soon_threadsafe(settle, future, reply)
            except RuntimeError:  # the event loop has closed: the server is going down
                return

    def stop(self) -> None:
        """Ends the thread after the job it is on; requests still queued get no answer, as their sockets close."""
        self.jobs.put(None)


def settle(future: asyncio.Future, reply: str) -> None:
    if not future.done():  # a page that went away meanwhile
        future.set_result(reply)


class Pool:
    """The worker thread and the open connections, in all and per page token, made in the app's lifespan."""

    worker: Worker | None = None
    models: dict[str, Model] | None = None
    lock = threading.Lock()
    waiting = 0  # requests handed to the worker and not yet started
    open = 0
    per_page: dict[str, int] = {}  # token -> open sockets; a token leaves when its last socket closes


def _sign(nonce: str) -> str:
    # Keyed by Streamlit's cookie secret: scripts/serve.sh gives every process the same one, so a token is
    # good on whichever process the page's cookie leads to; a lone process makes its own at start.
    key = str(config.get_option("server.cookieSecret")).encode()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def issue_token() -> str:
    """A page's token, sent with the live component's static part by a script run. Only a page Streamlit
    has served holds one, and each token holds at most MAX_PER_PAGE sockets: a bound per page, not per
    address, since a whole class may share one address behind the school's NAT. Signed, so the server keeps
    nothing for a page until it opens a socket."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_sign(nonce)}"


def page_token() -> str:
    """This session's token, made once: a rerun on every keystroke must not sign anew. The Train page keys the
    session's trained models by it too, so the route finds them (core/train/backend.py)."""
    import streamlit as st

    if "fast_token" not in st.session_state:
        st.session_state["fast_token"] = issue_token()
    return st.session_state["fast_token"]


def token_valid(token: str | None) -> bool:
    if not token or len(token) > 100 or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, _sign(nonce))


def models() -> dict[str, Model]:
    """The same shared InferenceSessions the pages use (st.cache_resource works outside a script run; the
    lookup costs 0.3 ms, so the route keeps what it returned)."""
    if Pool.models is None:
        Pool.models = panels.shared_models(str(models_dir()))[0]
    return Pool.models


def dumps(frame: dict) -> str:
    """A frame as JSON text: orjson, 12x as fast as json.dumps on a reply (0.03 ms against 0.33 for 6.5 kB),
    a tenth of a reply's CPU. json.dumps only for what orjson refuses (a lone surrogate in a message)."""
    try:
        return orjson.dumps(frame).decode()
    except orjson.JSONEncodeError:
        return json.dumps(frame)


def work(raw: str, readings: dict[str, Reading], token: str | None = None) -> str:
    """answer() on the worker thread. While more requests wait for it than SHED_AT, the server is not
    keeping up, and replies leave out the lookahead until it does."""
    with Pool.lock:
        ahead = Pool.waiting <= SHED_AT
        Pool.waiting -= 1
    return answer(raw, readings, ahead, token)


def answer(raw: str, readings: dict[str, Reading], ahead: bool = True, token: str | None = None) -> str:
    """One message in, one frame out, as JSON text. `readings` is this connection's and is updated in place.
    With `ahead` false the reply carries no lookahead: the page then draws each key when the server answers.
    `token` finds the models this page's session trained, which answer beside the shipped ones."""
    seq = None
    try:
        if len(raw) > MAX_MESSAGE:
            raise BadRequest(f"a request is at most {MAX_MESSAGE} characters")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:  # which includes a lone surrogate: json says what the rest of it is
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                raise BadRequest("a request is JSON") from None
        request: Request = parse_request(value)
        seq = request.seq
        text, cut = cap(request.text)
        loaded = models() | TRAINED.get(token)
        try:
            reads = {mid: read(model, text, readings.get(mid)) for mid, model in loaded.items()} if text else {}
        except UnrolledError as e:
            return dumps({"type": "reply", **live.reply(loaded, {}, "", seq, cut), "text": text, "problem": str(e)})
        readings.clear()
        readings.update(reads)
        return dumps({"type": "reply", **live.reply(loaded, reads, text, seq, cut, ahead)})
    except BadRequest as e:
        return dumps({"type": "error", "problem": str(e), "seq": seq})
    except Exception:  # never a traceback to the page; the log keeps it
        log.exception("fast path: a request failed")
        return dumps({"type": "error", "problem": UNANSWERED, "seq": seq})


async def endpoint(ws: WebSocket) -> None:
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host")):
        await ws.close(code=CLOSE_POLICY)  # before accept: the upgrade is refused (HTTP 403)
        return
    token = ws.query_params.get("token")
    if not token_valid(token):
        await ws.close(code=CLOSE_POLICY)
        return
    if Pool.open >= MAX_CONNECTIONS or Pool.per_page.get(token, 0) >= MAX_PER_PAGE or Pool.worker is None:
        await ws.close(code=CLOSE_BUSY)  # the page stays on the rerun path
        return
    Pool.open += 1
    Pool.per_page[token] = Pool.per_page.get(token, 0) + 1
    readings: dict[str, Reading] = {}
    bucket = Bucket()
    loop = asyncio.get_running_loop()
    try:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:  # a binary frame
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            if len(raw) > MAX_MESSAGE:
                await ws.send_text(answer(raw, readings))  # says why, then hangs up
                await ws.close(code=CLOSE_TOO_BIG)
                break
            if not bucket.take():
                if bucket.refused > BURST:
                    await ws.close(code=CLOSE_POLICY)
                    break
                await ws.send_text(dumps({"type": "error", "problem": "too many messages", "seq": None}))
                continue
            worker = Pool.worker
            if worker is None:  # the server is going down
                await ws.close(code=CLOSE_BUSY)
                break
            with Pool.lock:
                Pool.waiting += 1
            future = loop.create_future()
            worker.submit(loop, future, raw, readings, token)
            await ws.send_text(await future)
    except WebSocketDisconnect:
        pass
    finally:
        readings.clear()
        Pool.open -= 1
        Pool.per_page[token] -= 1
        if not Pool.per_page[token]:
            del Pool.per_page[token]


@asynccontextmanager
async def lifespan(app):
    # One BLAS thread for the whole server. Its numpy products are many people's small ones (the Train page's
    # models answer keystrokes in numpy, core/train/backend.py), each too small to split, and an idle second
    # OpenBLAS thread spins: a trained LSTM-256's keystroke (one step and 16 rows of lookahead) took 4.5 ms of
    # process CPU with two threads and 1.9 ms with one (OPENBLAS_NUM_THREADS=1 against the default, here).
    threadpool_limits(1, user_api="blas")
    Pool.worker = Worker()
    try:
        yield {}
    finally:
        Pool.worker.stop()
        Pool.worker = None


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute(route_path(), endpoint)]
