"""The Train page's feed (ui/train_feed.py): frames hold exactly what is new, snapshots and frames add up to the
job, and the route pushes nothing when nothing is new, says when the job ended, and lets only its job's page in."""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from core.train import jobs
from core.train.engine import Settings
from ui import door, train_feed

ARCHS = ("rnn", "lstm")


def message(first: int, steps: int, elapsed: float, cpu_ms: float = 5.0, clip_every: int = 0) -> dict:
    """A progress message as the worker sends it: `steps` steps from step `first`, for each model."""
    rows = []
    for i in range(first, first + steps):
        for arch in ARCHS:
            norm = 3.0 if clip_every and i % clip_every == 0 else 0.5
            rows.append(
                {
                    "arch": arch,
                    "step": i,
                    "loss": math.log(2) * 4 / (i + 1),
                    "norm": norm,
                    "clipped": min(norm, 1.0),
                    "ms": cpu_ms,
                    "cpu_ms": cpu_ms,
                }
            )
    dh = {arch: [0.1 * (t + 1) for t in range(6)] for arch in ARCHS}
    return {"rows": rows, "dh_norms": dh, "ran": first + steps, "elapsed": elapsed, "share": 1.0}


def a_job(messages: int = 0, steps: int = 10, **kw) -> jobs.Job:
    job = jobs.Job(7, "owner", Settings(task="recall", cells=ARCHS))
    job.state = "running"
    for n in range(messages):
        job.messages.append(message(n * steps, steps, 0.2 * (n + 1), **kw))
    return job


def test_a_frame_holds_exactly_the_steps_since_and_nothing_new_is_no_frame():
    job = a_job(3)
    assert train_feed.frame(job, 3) is None  # nothing new: nothing to send
    f = train_feed.frame(job, 1)
    assert (f["since"], f["to"], f["step"]) == (1, 3, 30)
    assert f["series"]["rnn"]["step"] == list(range(11, 31))  # counted from 1
    assert f["series"]["lstm"]["loss"][0] == pytest.approx(4 / 11)  # bits, from nats
    assert f["counted"] == {"rnn": 20, "lstm": 20}
    assert [h["step"] for h in f["heat"] if h["model"] == "rnn"] == [20, 30]


def test_a_snapshot_and_the_frames_after_it_add_up_to_the_whole_job():
    job = a_job(200, steps=10, clip_every=7)  # 2,000 steps per model, more than a snapshot keeps
    snap = train_feed.snapshot(job)
    assert len(snap["series"]["rnn"]["step"]) <= train_feed.MAX_POINTS
    assert snap["series"]["rnn"]["step"][-1] == 2000
    assert snap["counted"]["rnn"] == 2000 and snap["clipped"]["rnn"] == len(range(0, 2000, 7))  # exact, not binned
    assert max(snap["series"]["rnn"]["norm"]) == 3.0 and any(snap["series"]["rnn"]["clipped"])  # spikes kept
    assert sum(1 for h in snap["heat"] if h["model"] == "lstm") == train_feed.HEAT_ROWS
    job.messages.append(message(2000, 10, 40.2))
    later = train_feed.frame(job, snap["to"])
    assert later["since"] == 200 and later["to"] == 201 and later["series"]["rnn"]["step"][0] == 2001


def test_a_job_held_below_half_a_core_is_said_to_be_slowed():
    busy = a_job(15, steps=10, cpu_ms=6.0)  # 10 steps of 6 ms of CPU per model in each 0.2 s: 0.6 of a core
    assert train_feed.cores_used(busy.messages) == pytest.approx(0.6)
    assert not train_feed.frame(busy, 14)["slowed"]
    starved = a_job(15, steps=10, cpu_ms=2.0)  # 0.2 of a core
    assert train_feed.frame(starved, 14)["slowed"] and train_feed.frame(starved, 14)["got"] == pytest.approx(0.2)
    assert train_feed.cores_used(starved.messages[:3]) is None  # too short a run to say


@pytest.fixture
def feed(monkeypatch):
    """The feed's route alone, served by uvicorn in a thread, over a pool holding one hand-made job."""
    job = a_job(2)

    class OnePool:
        def get(self, job_id):
            return job if job_id == job.id else None

    monkeypatch.setattr(jobs, "pool", lambda: OnePool())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=train_feed.routes()), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}{train_feed.TRAIN_ROUTE}", job
    server.should_exit = True
    thread.join(5)


def open_feed(url: str, token: str | None, since: int = 0, origin: str | None = None):
    query = "" if token is None else f"?token={token}&since={since}"
    headers = {} if origin is None else {"Origin": origin}
    return connect(url + query, additional_headers=headers, open_timeout=5)


def test_the_feed_pushes_only_what_is_new_then_says_the_job_ended(feed):
    url, job = feed
    with open_feed(url, train_feed.job_token(job.id), since=1) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "progress" and (first["since"], first["to"]) == (1, 2)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=4 * train_feed.PUSH_EVERY)  # nothing new: nothing sent
        job.messages.append(message(20, 10, 0.6))
        second = json.loads(ws.recv(timeout=5))
        assert (second["since"], second["to"]) == (2, 3)
        job.state = "done"
        assert json.loads(ws.recv(timeout=5)) == {"type": "ended", "job": job.id, "state": "done"}


@pytest.mark.parametrize("token", [None, "forged", "another job", "no job"])
def test_the_feed_lets_in_only_the_job_s_own_page(feed, token):
    url, job = feed
    nonce = "abc-def"
    token = {
        None: None,
        "forged": f"{job.id}-x.0123456789abcdef0123456789abcdef",
        "another job": train_feed.job_token(8),  # signed, but for a job the pool does not hold
        "no job": door.issue_token(nonce),
    }[token]
    with pytest.raises((InvalidStatus, ConnectionClosed)), open_feed(url, token) as ws:
        ws.recv(timeout=5)


def test_the_feed_refuses_a_page_from_another_origin(feed):
    url, job = feed
    with (
        pytest.raises((InvalidStatus, ConnectionClosed)),
        open_feed(url, train_feed.job_token(job.id), origin="https://evil.example") as ws,
    ):
        ws.recv(timeout=5)
    with open_feed(
        url, train_feed.job_token(job.id), origin="http://127.0.0.1:" + url.split(":")[2].split("/")[0]
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "progress"  # the control: its own origin gets in
