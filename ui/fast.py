"""The live component's fast path: one WebSocket per page that answers keystrokes without a script rerun.

Why: a keystroke's model work (one step per model plus the lookahead) is about 2 ms, but a Streamlit fragment
rerun costs about 10 ms of GIL-bound CPU on top of it (a ScriptRunner thread, the deltas, `script_finished`).
While every keystroke was a rerun, one 2-core process topped out near 100 keys a second, about 25 people
typing (`python -m bench.load --path rerun`). Streamlit 1.67 serves on Starlette, and the `st.App` in app.py
takes our own routes beside its own, so this route shares the process, the loaded models and the port, and
`streamlit run app.py` stays the entry point. Nothing here touches a Streamlit session: a page's token
(ui/session.py) is all the route knows of it.

The messages are ui/protocol.py's: a request `{"text", "seq"}`, a reply frame `{"type": "reply", ...}` built by
`ui.live.reply` (the same function the rerun path uses), or an ErrorFrame. A page whose socket cannot open or
closes (a proxy that forwards only Streamlit's own paths) goes back to the rerun path by itself
(ui/web/live.js).

Every message is hostile until checked. ui/door.py admits a socket (its Origin, the page's token, the bounds
per page and per process) and rates its messages; here, a size cap before parsing, the protocol's shape check
and the text cap. Each connection's readings (the checkpoints that make the next keystroke one model step)
live in that connection's handler and go with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from contextlib import asynccontextmanager

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from threadpoolctl import threadpool_limits

from core.errors import UnrolledError
from core.models import Model, models_dir
from core.predict import Reading, read
from core.text import MAX_CHARS, cap
from core.train.backend import REGISTRY as TRAINED
from ui import door, live, panels
from ui.protocol import FAST_ROUTE, BadRequest, ErrorFrame, Request, parse_request

log = logging.getLogger(__name__)

# A request holds at most MAX_CHARS characters of text; in JSON each may take 12 (a \\ud83d\\ude00 pair).
MAX_MESSAGE = 12 * MAX_CHARS + 256
MAX_CONNECTIONS = 300  # per process: each holds at most three readings of MAX_CHARS (about 2 MB)
MAX_PER_PAGE = 4  # sockets one page's token may hold at once: the page uses one, a reconnect may overlap it
UNANSWERED = "the server could not answer this request"  # an error frame's words when something else failed


def error_frame(problem: str, seq: int | None = None) -> str:
    """An ErrorFrame as JSON text: the answer to a message the route cannot take."""
    return dumps(ErrorFrame(type="error", problem=problem, seq=seq))


class Replier:
    """The one thread that answers the fast path's messages, in the order they came; a reply goes back to the
    event loop with one call_soon_threadsafe.

    Model work runs off the event loop, so Streamlit's own messages (the same loop) never wait behind a burst
    of keystrokes (/_stcore/health p95 6-9 ms under 100 typing sessions). One thread: two fought over the GIL
    for the Python half of each reply (at 100 sessions, 2.7 ms of CPU per keystroke against 3.3 ms with two;
    `python -m bench.load --sessions 30 100 --path fast`). A paste of 1,000 characters holds it for about
    85 ms. It is a thread of our own, not a ThreadPoolExecutor: waking a sleeping thread and back is most of a
    hand-off's cost on a small virtual machine, and the executor's futures add to it (a no-op hand-off 8 ms
    apart: 0.21 ms of CPU through the executor, 0.13 ms through a queue; `python -m bench.handoff`).

    The lookahead over the likeliest next keys is about 60% of a reply's cost. While more than SHED_AT
    requests wait, replies leave it out until the thread catches up: every key then waits for the server's
    reply, which at that load still comes sooner than a queue of full replies would (`python -m bench.load`).
    """

    SHED_AT = 2

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.waiting = 0  # requests handed over and not yet started: the event loop adds, this thread takes
        self.thread = threading.Thread(target=self.run, name="unrolled-fast", daemon=True)
        self.thread.start()

    def submit(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, raw: str, readings: dict, token) -> None:
        """Answer `raw` for the connection whose `readings` these are; the reply settles `future` on `loop`."""
        with self.lock:
            self.waiting += 1
        self.jobs.put((loop, future, (raw, readings, token)))

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            loop, future, (raw, readings, token) = job
            with self.lock:
                ahead = self.waiting <= self.SHED_AT
                self.waiting -= 1
            try:
                reply = answer(raw, readings, ahead, token)
            except Exception:  # answer() keeps its own; whatever else happens, the thread stays up
                log.exception("fast path: a job failed")
                reply = error_frame(UNANSWERED)
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


class FastPath:
    """This process's fast path, made in the app's `lifespan` and gone when it ends. Threads: `door` is the event
    loop's alone; `replier` runs on its own thread and is handed work through its queue."""

    def __init__(self):
        self.door = door.Door(MAX_CONNECTIONS, MAX_PER_PAGE)
        self.replier = Replier()


SERVING: FastPath | None = None  # set while the server runs (lifespan)
_MODELS: dict[str, Model] | None = None  # the shipped models, looked up once (models())


def models() -> dict[str, Model]:
    """The same shared InferenceSessions the pages use (st.cache_resource works outside a script run; the
    lookup costs 0.3 ms, so the route keeps what it returned)."""
    global _MODELS
    if _MODELS is None:
        _MODELS = panels.shared_models(str(models_dir()))[0]
    return _MODELS


def dumps(frame: dict) -> str:
    """A frame as JSON text: orjson, 12x as fast as json.dumps on a reply (0.03 ms against 0.33 for 6.5 kB),
    a tenth of a reply's CPU. json.dumps only for what orjson refuses (a lone surrogate in a message)."""
    try:
        return orjson.dumps(frame).decode()
    except orjson.JSONEncodeError:
        return json.dumps(frame)


def loads(raw: str, what: str) -> object:
    """A message's JSON value (orjson, and json for what orjson refuses, a lone surrogate, so that the shape check
    says what is wrong with the rest); BadRequest if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise BadRequest(f"{what} is JSON") from None


def answer(raw: str, readings: dict[str, Reading], ahead: bool = True, token: str | None = None) -> str:
    """One message in, one frame out, as JSON text. `readings` is this connection's and is updated in place.
    With `ahead` false the reply carries no lookahead: the page then draws each key when the server answers.
    `token` finds the models this page's session trained, which answer beside the shipped ones."""
    seq = None
    try:
        if len(raw) > MAX_MESSAGE:
            raise BadRequest(f"a request is at most {MAX_MESSAGE} characters")
        request: Request = parse_request(loads(raw, "a request"))
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
        return error_frame(str(e), seq)
    except Exception:  # never a traceback to the page; the log keeps it
        log.exception("fast path: a request failed")
        return error_frame(UNANSWERED, seq)


async def endpoint(ws: WebSocket) -> None:
    serving, token = SERVING, ws.query_params.get("token")
    if serving is None:  # the server is going down
        await ws.close(code=door.CLOSE_BUSY)
        return
    refusal = serving.door.refusal(ws.headers.get("origin"), ws.headers.get("host"), token)
    if refusal is not None:
        await ws.close(code=refusal)  # before accept: the upgrade is refused; the page stays on the rerun path
        return
    serving.door.enter(token)
    readings: dict[str, Reading] = {}
    loop = asyncio.get_running_loop()
    try:
        await ws.accept()
        async for raw in door.messages(ws, MAX_MESSAGE, error_frame):
            if SERVING is not serving:  # the server is going down: nothing will answer
                await ws.close(code=door.CLOSE_BUSY)
                break
            future = loop.create_future()
            serving.replier.submit(loop, future, raw, readings, token)
            await ws.send_text(await future)
    except WebSocketDisconnect:
        pass
    finally:
        readings.clear()
        serving.door.leave(token)


@asynccontextmanager
async def lifespan(app):
    global SERVING
    # One BLAS thread for the whole server. Its numpy products are many people's small ones (the Train page's
    # models answer keystrokes in numpy, core/train/backend.py), each too small to split, and an idle second
    # OpenBLAS thread spins: a trained LSTM-256's keystroke took 4.5 ms of process CPU with two threads and
    # 1.9 ms with one.
    threadpool_limits(1, user_api="blas")
    SERVING = FastPath()
    try:
        yield {}
    finally:
        SERVING.replier.stop()
        SERVING = None


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute(door.route_path(FAST_ROUTE), endpoint)]
