"""Training jobs in a small pool of worker processes, made once per server process.

A training loop in a page's thread would hold the GIL and freeze every other user of the server, so jobs run
in worker processes (core/train/worker.py), started by a forkserver (never `fork`: the server is
multi-threaded). A page submits a job and reads its progress; the pool keeps the queue.

    pool = jobs.pool()                              # the process-wide pool (None: training turned off)
    job = pool.submit(Settings(...), owner=session, watching=is_connected)
                                                     # InputError if that owner already has MAX_PER_OWNER jobs
    job.messages[since:], job.state                  # progress so far (ui/train_feed.py folds it), the state
    pool.position(job)                               # its place in the queue (0: next), None once it runs
    pool.cancel(job)                                 # ends it within CANCEL_WITHIN seconds

Streamlit tells a page's code nothing when its tab closes, and a page that reads its job on a timer cannot
tell a closed tab from a server too busy to run its timer (a class typing made the reads come later than any
short timeout). So a job asks whether its page's session is still connected (`watching`, which the Train page
answers from Streamlit's own WebSocket): a closed tab disconnects at once, a slow server does not.

Workers run at the lowest priority, within a share of the CPU the pool sets from the server's own use
(core/train/budget.py), so a class typing beside a training job is served first.

A job that ends hands back its trained weights and vocabulary. A worker that dies (killed, out of memory)
fails only its own job, and the pool starts another worker in its place.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
import statistics
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from core.errors import InputError
from core.train import budget
from core.train.engine import Settings
from core.train.messages import (
    ENDED,
    Cancel,
    CancelledBy,
    Died,
    Done,
    Failed,
    FromWorker,
    Progress,
    Report,
    Result,
    Run,
    Share,
    State,
    ToWorker,
)

log = logging.getLogger(__name__)

MAX_PER_OWNER = 2  # queued or running jobs per owner (a page session), so one person cannot fill the queue
MAX_QUEUE = 64  # jobs waiting, all owners together
CANCEL_WITHIN = 3.0  # seconds a worker has to stop after a cancel before it is killed (the page promises 5)
MAX_ENDED = 32  # ended jobs (and their weights) kept for their pages to collect; older ones are dropped
ABANDON_AFTER = 3.0  # seconds a job's page may stay disconnected (a closed tab) before the job is cancelled
WATCH_EVERY = 0.5  # seconds between asks whether a running job's page is still connected
GRACE = 10.0  # seconds of the worker's own CPU past a job's cap in seconds before it is killed as hung
STUCK = 600.0  # seconds of wall time past the cap for a worker that uses no CPU at all (deadlocked)
SHARE_EVERY = 0.25  # seconds between the workers' shares of the CPU (core/train/budget.py)
POLL = 0.05
WORKERS_VARIABLE = "UNROLLED_TRAIN_WORKERS"  # the operator's switch: how many workers; 0 turns training off


def available_cores() -> int:
    """Whole cores this process may use (core/train/budget.box_cores), at least one."""
    return max(1, math.floor(budget.box_cores()))


def default_workers() -> int:
    """One core stays for the server itself: max(1, min(cores - 1, 2))."""
    return max(1, min(available_cores() - 1, 2))


def configured_workers(environ=os.environ) -> int:
    """UNROLLED_TRAIN_WORKERS when it is set to a whole number from 0 to 8, else default_workers()."""
    raw = environ.get(WORKERS_VARIABLE, "").strip()
    if raw.isdigit() and int(raw) <= 8:
        return int(raw)
    if raw:
        log.warning("%s=%r is not a whole number from 0 to 8; using %d", WORKERS_VARIABLE, raw, default_workers())
    return default_workers()


def training_enabled() -> bool:
    return configured_workers() > 0


@dataclass
class Job:
    """Threads: the pool's lock guards `state`, `result`, `error`, `finished`, `cancelled_by` and the queue. The
    job's slot thread alone writes `started`, `gone_since`, `share` and appends to `messages`, without the lock:
    page threads only read them, and under CPython's GIL a list append and an attribute store are each atomic,
    so a reader sees a message whole or not at all."""

    id: int
    owner: str
    settings: Settings
    watching: Callable[[], bool] | None = None  # is the page that started it still connected? None: not asked
    state: State = "queued"
    messages: list[Report] = field(default_factory=list)  # progress, in order
    result: Result | None = None  # when done: weights, final evaluation, samples, why it ended
    error: str | None = None
    cancelled_by: CancelledBy | None = None  # when cancelled
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False
    gone_since: float | None = None  # since when its page has been disconnected
    share: float = 1.0  # the cores its worker was last told it may use

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def page_gone_for(self, now: float) -> float:
        """Seconds its page has been disconnected, asking the page's probe now (0 while connected)."""
        if self.watching is None or self.watching():
            self.gone_since = None
            return 0.0
        if self.gone_since is None:
            self.gone_since = now
        return now - self.gone_since


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


@dataclass
class Watch:
    """What a slot tracks while one job runs."""

    pid: int
    cpu_at_start: float | None  # the worker's CPU seconds when the job began (None: no /proc to read)
    cancel_sent: float | None = None
    watched: float = 0.0  # when the page was last asked about
    shared: float = 0.0  # when the worker was last told its share

    def cpu(self) -> float | None:
        """The worker's CPU seconds spent on this job so far."""
        now = budget.process_cpu(self.pid)
        return None if now is None or self.cpu_at_start is None else now - self.cpu_at_start


class Slot:
    """One worker process and the thread that feeds it jobs and relays its messages. Only this thread talks to
    its worker."""

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
        watch = Watch(self.process.pid, budget.process_cpu(self.process.pid))
        self.conn.send(Run(asdict(job.settings)))
        while True:
            now = time.monotonic()
            # The page: a closed tab ends its job; a page slow to read (a busy server) does not.
            if now - watch.watched >= WATCH_EVERY:
                watch.watched = now
                if not job.cancel_requested and job.page_gone_for(now) > self.pool.abandon_after:
                    self.pool.cancel(job, by="page")
            if job.cancel_requested and watch.cancel_sent is None:
                self.tell(Cancel())
                watch.cancel_sent = now
            # The worker's share of the CPU, from the server's own use.
            if now - watch.shared >= SHARE_EVERY:
                watch.shared = now
                job.share = self.pool.governor.sample()
                self.tell(Share(job.share))
            message = self.receive()
            if message is None:
                problem = self.overdue(job, watch, now)
                if problem is None:
                    continue
                self.kill_worker()
                self.pool.finish(job, "cancelled" if watch.cancel_sent else "failed", error=problem or None)
                return
            if self.handle(job, message):
                return

    def tell(self, message: ToWorker) -> None:
        """Send the worker a message; a worker that has died meanwhile is found by receive()."""
        try:
            self.conn.send(message)
        except OSError:  # BrokenPipeError and the like
            pass

    def receive(self) -> FromWorker | None:
        """The worker's next message within POLL seconds, Died if it is gone, None if it said nothing."""
        try:
            if self.conn.poll(POLL):
                return self.conn.recv()
        except (EOFError, OSError):
            return self.died()
        return None if self.process.is_alive() else self.died()

    def died(self) -> Died:
        self.process.join(1)  # its pipe closes a moment before its exit code is known
        return Died(self.process.exitcode)

    def overdue(self, job: Job, watch: Watch, now: float) -> str | None:
        """Why the worker must be killed now, or None. "" for a cancel it ignored past CANCEL_WITHIN. A worker
        past its cap is hung only once it has spent GRACE seconds of its own CPU past it: at low priority on a
        busy core its last evaluation may take many times that in wall time (STUCK bounds a worker that uses no
        CPU at all)."""
        if watch.cancel_sent is not None:
            return "" if now - watch.cancel_sent > CANCEL_WITHIN else None
        cap = job.settings.max_seconds
        if now - job.started <= cap:
            return None
        cpu = watch.cpu()
        spun = cpu is not None and cpu > cap + GRACE
        stuck = now - job.started > cap + (GRACE if cpu is None else STUCK)
        if spun or stuck:
            return f"its worker kept going {GRACE:.0f} s past the job's cap of {cap:g} s and was stopped"
        return None

    def handle(self, job: Job, message: FromWorker) -> bool:
        """Relay one message from the worker; True once the job has ended."""
        match message:
            case Progress(report):
                job.messages.append(report)
                return False
            case Done(result):
                self.pool.finish(job, "cancelled" if result["reason"] == "cancelled" else "done", result=result)
            case Failed(error):
                self.pool.finish(job, "failed", error=error)
            case Died(code):
                self.kill_worker()
                why = "it was killed (out of memory?)" if code is not None and code < 0 else f"exit code {code}"
                self.pool.finish(job, "failed", error=f"the worker training this job stopped: {why}")
        return True


class Pool:
    """Threads: page threads call submit, cancel, position, forget and read jobs; one thread per Slot runs jobs.
    `changed` (a Condition) guards the queue, `jobs` and each job's state. `timings` is written by slot threads
    under it and read by pages without it (a dict read under the GIL sees a whole value)."""

    def __init__(
        self, workers: int | None = None, max_per_owner: int = MAX_PER_OWNER, abandon_after: float = ABANDON_AFTER
    ):
        """abandon_after: cancel a job whose page has been disconnected for this many seconds (see Job.watching)."""
        self.workers = workers or default_workers()
        self.max_per_owner = max_per_owner
        self.abandon_after = abandon_after
        others = budget.others_cpu(budget.cgroup_cores() is not None, self.worker_pids)
        self.governor = budget.Governor(budget.box_cores(), self.workers, cpu=others, waited=budget.quota_waits())
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(method)
        if method == "forkserver":
            self.context.set_forkserver_preload(["core.train.worker"])
        self.queue: deque[Job] = deque()
        self.timings: dict[tuple[str, int], float] = {}  # (cell, T) -> median CPU ms per step of the latest job
        self.jobs: dict[int, Job] = {}
        self.ids = itertools.count(1)
        self.changed = threading.Condition()
        self.closed = False
        self.slots = [Slot(self, i) for i in range(self.workers)]
        for slot in self.slots:
            slot.thread.start()

    def worker_pids(self) -> list[int]:
        return [slot.process.pid for slot in self.slots if slot.process is not None]

    def submit(self, settings: Settings, owner: str, watching: Callable[[], bool] | None = None) -> Job:
        """watching: asked every WATCH_EVERY seconds while the job runs; once it has said False for
        abandon_after seconds, the job is cancelled (its page went away)."""
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
            job = Job(next(self.ids), owner, settings, watching)
            self.jobs[job.id] = job
            self.queue.append(job)
            self.changed.notify_all()
            return job

    def get(self, job_id) -> Job | None:
        return self.jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        with self.changed:
            return self.queue.index(job) if job in self.queue else None

    def cancel(self, job: Job, by: CancelledBy = "learner") -> None:
        """End a job: at once if it waits, within CANCEL_WITHIN seconds if it runs. by: "learner" (Stop), "page"
        (its page went away) or "server" (shutting down), so the page can say why it ended."""
        with self.changed:
            if job.ended:
                return
            job.cancelled_by = job.cancelled_by or by
            if job in self.queue:
                self.queue.remove(job)
                self.finish_locked(job, "cancelled")
            else:
                job.cancel_requested = True

    def record_timings(self, job: Job) -> None:
        """BPTT's cost on this server: each cell's median milliseconds per step at the job's unroll T. A
        curriculum changes T as it goes, so its jobs are left out."""
        if job.settings.curriculum:
            return
        per_cell: dict[str, list[float]] = {}
        for message in job.messages:
            for row in message["rows"]:
                per_cell.setdefault(row["arch"], []).append(row["cpu_ms"])
        for arch, ms in per_cell.items():
            if len(ms) >= 5:
                self.timings[(arch, job.settings.unroll)] = statistics.median(ms)

    def next_job(self) -> Job | None:
        with self.changed:
            while not self.queue and not self.closed:
                self.changed.wait()
            if self.closed:
                return None
            job = self.queue.popleft()  # if its page has gone meanwhile, run() cancels it after abandon_after
            job.state = "running"
            return job

    def finish(self, job: Job, state: State, result: Result | None = None, error: str | None = None) -> None:
        with self.changed:
            self.finish_locked(job, state, result, error)

    def finish_locked(self, job: Job, state: State, result: Result | None = None, error: str | None = None) -> None:
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
            for job in list(self.jobs.values()):
                if not job.ended:
                    job.cancelled_by = job.cancelled_by or "server"
                    job.cancel_requested = True
            for job in list(self.queue):
                self.finish_locked(job, "cancelled")
            self.queue.clear()
            self.changed.notify_all()
        for slot in self.slots:
            slot.thread.join(CANCEL_WITHIN + 2)
            slot.kill_worker()


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool | None:
    """The pool of this server process, made on first use; None when the operator turned training off
    (UNROLLED_TRAIN_WORKERS=0)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None and training_enabled():
            _POOL = Pool(workers=configured_workers())
        return _POOL
