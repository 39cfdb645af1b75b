"""Training jobs in a small pool of worker processes, made once per server process.

A training loop in a page's thread would hold the GIL and freeze every other user of the server, so jobs run
in worker processes (core/train/worker.py), started by a forkserver (never `fork`: the server is
multi-threaded). A page submits a job and reads its progress; the pool keeps the queue.

    pool = jobs.pool()                              # the process-wide pool
    job = pool.submit(Settings(...), owner=session)  # InputError if that owner already has MAX_PER_OWNER jobs
    job.read(since)                                  # progress messages since an index, and the state
    pool.position(job)                               # its place in the queue (0: next), None once it runs
    pool.cancel(job)                                 # ends it within CANCEL_WITHIN seconds

A job that ends hands back its trained weights and vocabulary. A worker that dies (killed, out of memory)
fails only its own job, and the pool starts another worker in its place.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import statistics
import sys
import threading
import time
import types
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import InputError
from core.train.engine import Settings

MAX_PER_OWNER = 2  # queued or running jobs per owner (a page session), so one person cannot fill the queue
MAX_QUEUE = 64  # jobs waiting, all owners together
CANCEL_WITHIN = 3.0  # seconds a worker has to stop after a cancel before it is killed (the page promises 5)
MAX_ENDED = 32  # ended jobs (and their weights) kept for their pages to collect; older ones are dropped
ABANDON_AFTER = 3.0  # the process-wide pool cancels a job its page has not read for this long
GRACE = 10.0  # seconds past a job's own cap in seconds before its worker is killed as hung
POLL = 0.05


def cgroup_cores(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota in cores (cgroup v2 cpu.max, or v1 cfs quota / period), None if there is none."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup quota. os.cpu_count() counts the
    host's CPUs, which on a hosted container (Community Cloud, say) can be many more than it may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cores()
    return max(1, min(cores, math.floor(quota))) if quota else cores


def default_workers() -> int:
    """One core stays for the server itself: max(1, min(cores - 1, 2))."""
    return max(1, min(available_cores() - 1, 2))


@dataclass
class Job:
    id: int
    owner: str
    settings: Settings
    state: str = "queued"  # queued, running, done, failed, cancelled
    messages: list = field(default_factory=list)  # progress, in order
    result: dict | None = None  # when done: weights, final evaluation, samples, why it ended
    error: str | None = None
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False
    last_seen: float = field(default_factory=time.monotonic)  # when its page last asked about it

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def read(self, since: int = 0) -> tuple[list, str]:
        """Progress messages from index `since` on, and the state; reading counts as the page still watching."""
        self.last_seen = time.monotonic()
        return self.messages[since:], self.state


@contextmanager
def plain_main():
    """multiprocessing makes a new process import the parent's `__main__` first. Under Streamlit that is the
    page script being run (it runs as `__main__`), so each worker would run the Train page once in bare mode,
    and could start a pool of its own. While a worker starts, `__main__` is an empty stand-in."""
    real, stand_in = sys.modules.get("__main__"), types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in:  # unless a script run has set its own meanwhile
            sys.modules["__main__"] = real


class Slot:
    """One worker process and the thread that feeds it jobs and relays its messages."""

    def __init__(self, pool: Pool, index: int):
        self.pool, self.index = pool, index
        self.process = self.conn = None
        self.thread = threading.Thread(target=self.serve, name=f"train-worker-{index}", daemon=True)

    def start_worker(self) -> None:
        from core.train import worker

        parent, child = self.pool.context.Pipe()
        self.process = self.pool.context.Process(target=worker.main, args=(child,), daemon=True)
        with plain_main():
            self.process.start()
        child.close()
        self.conn = parent

    def kill_worker(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None

    def serve(self) -> None:
        while True:
            job = self.pool.next_job()
            if job is None:
                self.kill_worker()
                return
            if self.process is None or not self.process.is_alive():
                self.kill_worker()
                self.start_worker()
            self.run(job)

    def run(self, job: Job) -> None:
        job.started = time.monotonic()
        self.conn.send(("run", asdict(job.settings)))
        cancel_sent = hard_deadline = None
        while True:
            if self.pool.abandoned(job):
                job.cancel_requested = True
            if job.cancel_requested and cancel_sent is None:
                self.conn.send(("cancel",))
                cancel_sent = time.monotonic()
            try:
                ready = self.conn.poll(POLL)
                message = self.conn.recv() if ready else None
            except (EOFError, OSError):
                message = ("died",)
            if message is None:
                now = time.monotonic()
                hard_deadline = job.started + job.settings.max_seconds + GRACE
                if not self.process.is_alive():
                    message = ("died",)
                elif (cancel_sent is not None and now - cancel_sent > CANCEL_WITHIN) or now > hard_deadline:
                    self.kill_worker()
                    self.pool.finish(job, "cancelled" if cancel_sent else "failed", error=self.hung(job, cancel_sent))
                    return
                else:
                    continue
            kind = message[0]
            if kind == "progress":
                job.messages.append(message[1])
            elif kind == "done":
                state = "cancelled" if message[1]["reason"] == "cancelled" else "done"
                self.pool.finish(job, state, result=message[1])
                return
            elif kind == "error":
                self.pool.finish(job, "failed", error=message[1])
                return
            elif kind == "died":
                code = self.process.exitcode if self.process is not None else None
                self.kill_worker()
                why = "it was killed (out of memory?)" if code is not None and code < 0 else f"exit code {code}"
                self.pool.finish(job, "failed", error=f"the worker training this job stopped: {why}")
                return

    @staticmethod
    def hung(job: Job, cancel_sent) -> str | None:
        if cancel_sent is not None:
            return None
        return f"the job ran {GRACE:.0f} s past its cap of {job.settings.max_seconds:g} s and was stopped"


class Pool:
    def __init__(
        self, workers: int | None = None, max_per_owner: int = MAX_PER_OWNER, abandon_after: float | None = None
    ):
        """abandon_after: cancel a job nobody has read for this many seconds (Streamlit tells a page nothing
        when its tab closes, so the Train page reads its job a few times a second and the pool notices)."""
        self.workers = workers or default_workers()
        self.max_per_owner = max_per_owner
        self.abandon_after = abandon_after
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(method)
        if method == "forkserver":
            self.context.set_forkserver_preload(["core.train.worker"])
        self.queue: deque[Job] = deque()
        self.timings: dict[tuple[str, int], float] = {}  # (cell, T) -> median ms per step of the latest job
        self.jobs: dict[int, Job] = {}
        self.ids = itertools.count(1)
        self.changed = threading.Condition()
        self.closed = False
        self.slots = [Slot(self, i) for i in range(self.workers)]
        for slot in self.slots:
            slot.thread.start()

    def submit(self, settings: Settings, owner: str) -> Job:
        settings.checked()
        with self.changed:
            if self.closed:
                raise InputError("the training pool has shut down")
            mine = [j for j in self.jobs.values() if j.owner == owner and not j.ended]
            if len(mine) >= self.max_per_owner:
                raise InputError(
                    f"you already have {len(mine)} training jobs queued or running; stop one before starting another"
                )
            if len(self.queue) >= MAX_QUEUE:
                raise InputError(f"{len(self.queue)} jobs are waiting already; try again in a minute")
            job = Job(next(self.ids), owner, settings)
            self.jobs[job.id] = job
            self.queue.append(job)
            self.changed.notify_all()
            return job

    def get(self, job_id) -> Job | None:
        return self.jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        with self.changed:
            return self.queue.index(job) if job in self.queue else None

    def cancel(self, job: Job) -> None:
        with self.changed:
            if job in self.queue:
                self.queue.remove(job)
                self.finish_locked(job, "cancelled")
            elif not job.ended:
                job.cancel_requested = True

    def record_timings(self, job: Job) -> None:
        """BPTT's cost on this server: each cell's median milliseconds per step at the job's unroll T. A
        curriculum changes T as it goes, so its jobs are left out."""
        if job.settings.curriculum:
            return
        per_cell: dict[str, list[float]] = {}
        for message in job.messages:
            for step in message["steps"]:
                per_cell.setdefault(step["arch"], []).append(step["ms"])
        for arch, ms in per_cell.items():
            if len(ms) >= 5:
                self.timings[(arch, job.settings.unroll)] = statistics.median(ms)

    def abandoned(self, job: Job) -> bool:
        return self.abandon_after is not None and time.monotonic() - job.last_seen > self.abandon_after

    def next_job(self) -> Job | None:
        with self.changed:
            while True:
                while not self.queue and not self.closed:
                    self.changed.wait()
                if self.closed:
                    return None
                job = self.queue.popleft()
                if not self.abandoned(job):
                    job.state = "running"
                    return job
                self.finish_locked(job, "cancelled", error="nobody was watching it any more")

    def finish(self, job: Job, state: str, result: dict | None = None, error: str | None = None) -> None:
        with self.changed:
            self.finish_locked(job, state, result, error)

    def finish_locked(self, job: Job, state: str, result: dict | None = None, error: str | None = None) -> None:
        job.state, job.result, job.error, job.finished = state, result, error, time.monotonic()
        self.record_timings(job)
        ended = [j for j in self.jobs.values() if j.ended]
        for old in sorted(ended, key=lambda j: j.finished)[: max(0, len(ended) - MAX_ENDED)]:
            del self.jobs[old.id]
        self.changed.notify_all()

    def wait(self, job: Job, timeout: float) -> bool:
        """Block until the job has ended (for tests and benchmarks; pages poll instead)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not job.ended and time.monotonic() < deadline:
                self.changed.wait(max(0.0, deadline - time.monotonic()))
            return job.ended

    def forget(self, job: Job) -> None:
        """Drop an ended job (its weights included) from the pool's books."""
        with self.changed:
            if job.ended:
                self.jobs.pop(job.id, None)

    def shutdown(self) -> None:
        with self.changed:
            self.closed = True
            for job in list(self.queue):
                self.finish_locked(job, "cancelled")
            self.queue.clear()
            for job in self.jobs.values():
                if not job.ended:
                    job.cancel_requested = True
            self.changed.notify_all()
        for slot in self.slots:
            slot.thread.join(CANCEL_WITHIN + 2)
            slot.kill_worker()


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """The pool of this server process, made on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Pool(abandon_after=ABANDON_AFTER)
        return _POOL
