"""The guessing game's socket: one WebSocket per Guess page that judges its guesses without a script rerun.

Why: every guess sent as the board's state reruns its fragment, and Streamlit starts a thread for each rerun and
waits in Thread.start for it to hold the interpreter lock. A class of 100 guessing every 1.5 s is 67 reruns a
second, past one process's knee: p95 from a guess to its judged reply 0.7-2.8 s, against a goal of 100 ms
(`python -m bench.classroom --path rerun`). Over this route a guess is judged, recorded and answered by a thread of
the route's own; the script runs only when the page around the board must change (the passage ended in a room,
or the room closed).

A page's game is its session's `ui.guess.Play`; the route finds it in `ui.guess.PLAYS` by the page's token, which
the board's payload carries (`link`). Both apply moves through `ui.guess.turn` under the play's lock, so a move
sent both ways (a socket that dropped while a guess was out) is applied once: the play's `seq` decides. A page
whose token has no game in this process (a server restarted), or whose game cannot take moves yet (in a room, before
the page has said who it is), has its socket closed: the page goes on through reruns (ui/web/guess.js), as it does
when the socket cannot open.

The messages are ui/protocol.py's: a move {"guess", "seq"} or {"show", "seq"} in, a BoardFrame or ErrorFrame out.
ui/door.py admits a socket (its Origin, the page's token, bounds per page and per process) and rates its messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.models import models_dir
from store.errors import StoreError
from ui import door, fast, guess, i18n, panels, room
from ui.fast import dumps, error_frame
from ui.protocol import GUESS_ROUTE, BadRequest, BoardFrame, parse_move

log = logging.getLogger(__name__)

MAX_MESSAGE = 1024  # a move is a few dozen characters
MAX_CONNECTIONS = 500  # per process: a socket holds nothing but its page's token
MAX_PER_PAGE = 4  # the page uses one; a reconnect may overlap it
NO_GAME = "this page has no game on this server process: reload the page"
# Threads that judge and record moves. More than one, so that moves waiting on the store's commit are written
# together (store/batch.py) rather than one commit after another.
THREADS = 4


class GuessPath:
    """This process's route: `door` is the event loop's alone; `pool` runs the moves."""

    def __init__(self):
        self.door = door.Door(MAX_CONNECTIONS, MAX_PER_PAGE)
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="unrolled-guess")


_SERVING: GuessPath | None = None


def serving() -> GuessPath:
    """Made on the first connection; only the event loop's thread calls it."""
    global _SERVING
    if _SERVING is None:
        _SERVING = GuessPath()
    return _SERVING


def fresh_seat(seat: room.Seat | None) -> room.Seat | None:
    """The seat with its room as this process read it in the last second (a teacher's next passage)."""
    if seat is None:
        return None
    s = room.store()
    try:
        now = room.recent_room(s, seat.room.code) if s is not None else None
    except StoreError:
        now = None
    return seat if now is None else dataclasses.replace(seat, room=now)


def answer(raw: str, token: str) -> str:
    """One move in, one frame out, as JSON text."""
    seq = None
    try:
        if len(raw) > MAX_MESSAGE:
            raise BadRequest(f"a move is at most {MAX_MESSAGE} characters")
        move = parse_move(fast.loads(raw, "a move"))
        seq = move.seq
        play = guess.PLAYS.get(token)
        if play is None:
            raise BadRequest(NO_GAME)
        folder = str(models_dir())
        models = panels.shared_models(folder)[0]
        passages = guess.shared_passages(folder)
        with i18n.speaking(play.lang), play.lock:
            if not play.ready:
                raise BadRequest(NO_GAME)
            action = {"show": True} if move.show else {"guess": move.guess} if move.guess is not None else None
            if move.seq <= play.seq:  # applied already (sent both ways, or replayed)
                action = None
            elif action is not None:  # a message with no move takes no seq: a move out on the other way may have it
                play.seq = move.seq
            seat = fresh_seat(play.seat)
            board, left = guess.turn(play, action, models, passages, seat)
            if left:
                play.left, play.seat, seat = seat.room.code, None, None
            rerun = guess.drawn_around(seat, play.game) != play.drawn
        frame: BoardFrame = {"type": "board", "board": board, "rerun": rerun}
        return dumps(frame)
    except BadRequest as e:
        return error_frame(str(e), seq)
    except Exception:  # never a traceback to the page; the log keeps it
        log.exception("guess path: a move failed")
        return error_frame("the server could not judge this guess", seq)


async def endpoint(ws: WebSocket) -> None:
    path, token = serving(), ws.query_params.get("token")
    refusal = path.door.refusal(ws.headers.get("origin"), ws.headers.get("host"), token)
    if refusal is not None:
        await ws.close(code=refusal)  # before accept: the upgrade is refused; the page stays on reruns
        return
    path.door.enter(token)
    loop = asyncio.get_running_loop()
    try:
        await ws.accept()
        async for raw in door.messages(ws, MAX_MESSAGE, error_frame):
            play = guess.PLAYS.get(token)
            if play is None or not play.ready:  # nothing here can take this page's moves: it sends them by reruns
                await ws.close(code=door.CLOSE_POLICY)
                break
            await ws.send_text(await loop.run_in_executor(path.pool, answer, raw, token))
    except WebSocketDisconnect:
        pass
    finally:
        path.door.leave(token)


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute(door.route_path(GUESS_ROUTE), endpoint)]
