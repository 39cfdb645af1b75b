"""The Train page's feed: what its charts are fed while a job trains, and the WebSocket that pushes it.

Why: rebuilding a job's charts on the server on every read cost 0.22 of a core per watching page, under the GIL
the fast path's thread waits for. So the browser keeps the series and draws them (ui/web/train.js), a page's
full run sends it a snapshot, and while the job runs this route pushes only what is new: a frame of the steps
since the last one, a few times a second, and nothing at all when nothing is new. A watching page costs the
server about 0.01 of a core (`python -m bench.training_load`). A page whose socket cannot open falls back to a
fragment that sends snapshots (views/train.py).

A frame (`Frame`) holds the progress messages `since`..`to` of one job, folded into columns; a page applies a
frame only when it holds exactly `since` messages, and asks for a snapshot otherwise. `Ended` tells the page to
run once more, for the outcome. Every socket is checked at the door as the fast path's are (same Origin, a
token signed by the server, which here names the job) and bounded per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from typing import Literal, TypedDict

import numpy as np
import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.train import jobs
from core.train.messages import Report, State, StepRow
from ui import door

log = logging.getLogger(__name__)

TRAIN_ROUTE = "/api/train"  # under server.baseUrlPath, beside the fast path's
PUSH_EVERY = 0.25  # seconds between looks at a job for new progress (the worker reports 5 times a second)
MAX_SOCKETS = 64  # per process; a page beyond it falls back to snapshots
MAX_PER_JOB = 4  # sockets one job's token may hold at once: its page uses one, a reconnect may overlap it
MAX_POINTS = 300  # points per model a snapshot keeps for each chart: longer runs are binned to this many
HEAT_ROWS = 60  # snapshots of the gradient through time a snapshot keeps per model
SLOWED = 0.5  # CPU seconds per second over the job's last SLOWED_OVER seconds below which the page says so
SLOWED_OVER = 2.0
LN2 = math.log(2)


class Series(TypedDict):
    """One model's training steps, as parallel columns (N,)."""

    step: list[int]  # the step's number, counted from 1
    loss: list[float]  # training loss, bits per scored character
    norm: list[float]  # the global gradient norm before clipping
    clipped: list[int]  # 1 where clipping changed the gradient (for a binned point: any step in its bin)
    cpu_ms: list[float]  # the step's CPU milliseconds (BPTT's own cost, whatever else the server does)


class HeatRow(TypedDict):
    step: int
    model: str  # the cell: rnn, gru, lstm
    norms: list[float]  # (T,) ||dL/dh_t|| of that step, t = 1..T


class Evaluation(TypedDict):
    step: int
    model: str
    score: float  # accuracy (recall) or held-out bits per character (text)


class Sample(TypedDict):
    step: int
    text: str  # what the model wrote: drawn as text, never as markup


class Frame(TypedDict):
    type: Literal["progress"]
    job: int
    since: int  # the messages a page must hold to apply this frame (0 for a snapshot)
    to: int  # the messages it holds after applying it
    state: State  # the job's
    step: int  # steps run so far
    elapsed: float  # seconds since the job started
    share: float  # the cores its worker was last allowed
    got: float | None  # the cores it used over its last SLOWED_OVER seconds (None: too early to say)
    slowed: bool  # got less than SLOWED of a core: the server serves other people first
    series: dict[str, Series]  # model -> its steps in this frame
    clipped: dict[str, int]  # model -> steps clipped in this frame (exact, also when series are binned)
    counted: dict[str, int]  # model -> steps in this frame
    heat: list[HeatRow]
    latest: dict[str, list[float]]  # model -> ||dL/dh_t|| of its latest step in this frame
    evaluations: list[Evaluation]
    samples: dict[str, Sample]  # model -> its latest sample in this frame


class Ended(TypedDict):
    type: Literal["ended"]
    job: int
    state: State


def _clipped(row: StepRow) -> bool:
    return row["clipped"] < row["norm"] * (1 - 1e-6)


def fold(job: jobs.Job, since: int, messages: list[Report]) -> Frame:
    """Progress messages since..since+len(messages) of `job`, folded into one frame."""
    series: dict[str, Series] = {}
    clipped: dict[str, int] = {}
    heat: list[HeatRow] = []
    latest: dict[str, list[float]] = {}
    evaluations: list[Evaluation] = []
    samples: dict[str, Sample] = {}
    step, elapsed, share = 0, 0.0, job.share
    for m in messages:
        step, elapsed, share = m["ran"], m["elapsed"], m.get("share", share)
        for row in m["rows"]:
            arch = row["arch"]
            columns = series.setdefault(arch, Series(step=[], loss=[], norm=[], clipped=[], cpu_ms=[]))
            was_clipped = _clipped(row)
            columns["step"].append(row["step"] + 1)
            columns["loss"].append(row["loss"] / LN2)
            columns["norm"].append(row["norm"])
            columns["clipped"].append(int(was_clipped))
            columns["cpu_ms"].append(row["cpu_ms"])
            clipped[arch] = clipped.get(arch, 0) + was_clipped
        for arch, norms in m["dh_norms"].items():
            heat.append(HeatRow(step=m["ran"], model=arch, norms=norms))
            latest[arch] = norms
        if "evaluation" in m:
            e = m["evaluation"]
            evaluations += [Evaluation(step=e["step"], model=a, score=v) for a, v in e["scores"].items()]
        if "samples" in m:
            samples |= {a: Sample(step=m["samples"]["step"], text=text) for a, text in m["samples"]["text"].items()}
    return Frame(
        type="progress",
        job=job.id,
        since=since,
        to=since + len(messages),
        state=job.state,
        step=step,
        elapsed=elapsed,
        share=share,
        got=(got := cores_used(job.messages[: since + len(messages)])),
        slowed=got is not None and got < SLOWED,
        series=series,
        clipped=clipped,
        counted={a: len(c["step"]) for a, c in series.items()},
        heat=heat,
        latest=latest,
        evaluations=evaluations,
        samples=samples,
    )


def frame(job: jobs.Job, since: int) -> Frame | None:
    """What is new in `job` after its first `since` messages; None when nothing is."""
    messages = job.messages[since:]  # one slice: the slot thread may append meanwhile
    return fold(job, since, messages) if messages else None


def snapshot(job: jobs.Job) -> Frame:
    """The whole job so far, with each model's series binned to MAX_POINTS and HEAT_ROWS heat rows: what a
    page's full run sends, and what the fallback sends on every read."""
    whole = fold(job, 0, job.messages[:])
    whole["series"] = {arch: binned(columns) for arch, columns in whole["series"].items()}
    whole["heat"] = thinned(whole["heat"])
    return whole


def binned(columns: Series, points: int = MAX_POINTS) -> Series:
    """At most `points` bins of consecutive steps: the mean loss, the largest norm (so spikes stay), the median
    CPU time, clipped if any step in the bin was, at the bin's last step."""
    n = len(columns["step"])
    size = max(1, math.ceil(n / points))
    if size == 1:
        return columns
    whole = n // size * size  # full bins as the rows of an array; what is left over is one bin of its own

    def each(key: str, how) -> list[float]:
        values = np.asarray(columns[key], dtype=float)
        out = how(values[:whole].reshape(-1, size), axis=1).tolist()
        return out + ([float(how(values[whole:]))] if whole < n else [])

    return Series(
        step=columns["step"][size - 1 :: size] + ([columns["step"][-1]] if whole < n else []),
        loss=each("loss", np.mean),
        norm=each("norm", np.max),
        clipped=[int(v) for v in each("clipped", np.max)],
        cpu_ms=each("cpu_ms", np.median),
    )


def thinned(heat: list[HeatRow], rows: int = HEAT_ROWS) -> list[HeatRow]:
    """At most `rows` heat rows per model, spread evenly over the run."""
    out = []
    for arch in dict.fromkeys(h["model"] for h in heat):
        mine = [h for h in heat if h["model"] == arch]
        keep = np.unique(np.linspace(0, len(mine) - 1, min(rows, len(mine))).round().astype(int))
        out += [mine[i] for i in keep]
    return out


def cores_used(messages: list[Report]) -> float | None:
    """The CPU time the job's steps took over its last SLOWED_OVER seconds, per second of wall time: below
    SLOWED (wall time more than twice CPU time) the server is serving other people first, or holding the worker
    to its share. None while the job is too young to say."""
    if not messages:
        return None
    end = messages[-1]["elapsed"]
    recent = []
    for m in reversed(messages):
        recent.append(m)
        if m["elapsed"] < end - SLOWED_OVER:
            break
    wall = end - recent[-1]["elapsed"]
    if wall < SLOWED_OVER * 0.75:
        return None
    return sum(row["cpu_ms"] for m in recent[:-1] for row in m["rows"]) / 1000 / wall


# -----------------------------------------------------------------------------
# the route


def job_token(job_id: int) -> str:
    """A token for one job's feed, signed like the fast path's page tokens: only the page that started the job
    (or was sent this token by it) can watch it."""
    return door.issue_token(f"{job_id}-{secrets.token_urlsafe(9)}")


def job_of(token: str) -> jobs.Job | None:
    """The job a valid token names, if the pool still has it."""
    pool = jobs.pool()
    head = door.token_nonce(token).split("-", 1)[0]
    return pool.get(int(head)) if pool is not None and head.isdigit() and len(head) < 12 else None


DOOR = door.Door(MAX_SOCKETS, MAX_PER_JOB)  # this process's feed sockets (the event loop alone uses it)


def dumps(message: Frame | Ended) -> str:
    return orjson.dumps(message).decode()


async def endpoint(ws: WebSocket) -> None:
    token = ws.query_params.get("token")
    refusal = DOOR.refusal(ws.headers.get("origin"), ws.headers.get("host"), token)
    job = job_of(token) if refusal is None else None
    if job is None:
        await ws.close(code=refusal or door.CLOSE_POLICY)  # refused or full: the page falls back to snapshots
        return
    raw_since = ws.query_params.get("since", "0")
    since = min(int(raw_since), len(job.messages)) if raw_since.isdigit() and len(raw_since) < 9 else 0
    DOOR.enter(token)
    try:
        await ws.accept()
        gone = asyncio.ensure_future(ws.receive())  # the page sends nothing: any message, or a close, ends it
        while True:
            ended = job.ended  # read before the messages: the last progress comes before the job ends
            update = frame(job, since)
            if update is not None:
                await ws.send_text(dumps(update))
                since = update["to"]
            if ended:
                await ws.send_text(dumps(Ended(type="ended", job=job.id, state=job.state)))
                break
            done, _ = await asyncio.wait({gone}, timeout=PUSH_EVERY)
            if done:
                break
        gone.cancel()
        await ws.close()
    except WebSocketDisconnect:
        pass
    except Exception:  # never a traceback to the page; it falls back to snapshots
        log.exception("train feed: a socket failed")
    finally:
        DOOR.leave(token)


def routes() -> list[WebSocketRoute]:
    return [WebSocketRoute(door.route_path(TRAIN_ROUTE), endpoint)]
