"""A training worker process: runs one job at a time for core/train/jobs.py, over a pipe.

BLAS is pinned to one thread here, before numpy is imported: this module is the forkserver's preload, so
every worker forked from it starts with numpy loaded and single-threaded (a training loop on two BLAS
threads would take both of a small server's cores from everyone else).

Its messages are named in core/train/messages.py: Run, Share, Cancel and Stop in; Progress at least 4 times a
second for the job running, then Done or Failed, out.

A worker runs at the lowest priority (set in main(), never at import: the server imports this module too) and
keeps to the share of a core the pool last sent it (core/train/budget.py says why priority is not enough).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from core.train.messages import Cancel, Done, Failed, Progress, Report, Result, Run, Share, StepRow, Stop  # noqa: E402

REPORT_EVERY = 0.2  # seconds between progress messages: 5 a second, whatever a step costs
# Seconds of the worker's own CPU between held-out evaluations (accuracy or bits per character): a second of
# wall time while the server is idle, longer while it holds the worker to a share, so that evaluating (each
# costs about two steps) takes the same small part of the training whatever the share.
EVALUATE_EVERY = 1.0


class Reporter:
    """Collects each step's figures and sends them in one message every REPORT_EVERY seconds, from its own
    thread, so progress keeps arriving even while one long step runs."""

    def __init__(self, conn, began: float):
        self.conn, self.began, self.lock = conn, began, threading.Lock()
        self.rows: list[StepRow] = []
        self.latest: dict[str, list[float]] = {}  # arch -> the latest step's ||dL/dh_t||
        self.extra: dict = {}  # an evaluation or samples, when one was made since the last report
        self.share = 1.0  # the cores the worker was last allowed
        self.done = threading.Event()
        self.ran = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def add(self, step: int, reports: dict) -> None:
        with self.lock:
            self.ran = step + 1
            for arch, r in reports.items():
                self.rows.append(
                    StepRow(
                        arch=arch, step=r.step, loss=r.loss, norm=r.norm, clipped=r.clipped, ms=r.ms, cpu_ms=r.cpu_ms
                    )
                )
                self.latest[arch] = r.dh_norms.astype(float).tolist()

    def note(self, **extra) -> None:
        with self.lock:
            self.extra.update(extra)

    def flush(self) -> None:
        with self.lock:
            elapsed = time.perf_counter() - self.began
            report = Report(
                rows=self.rows, dh_norms=self.latest, ran=self.ran, elapsed=elapsed, share=self.share, **self.extra
            )
            self.rows, self.latest, self.extra = [], {}, {}
            self.conn.send(Progress(report))

    def loop(self) -> None:
        while not self.done.wait(REPORT_EVERY):
            self.flush()

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.flush()


class Budget:
    """Keeps the worker to `share` cores (at most one: a worker is one thread), measured over wall time: after
    each piece of work it rests until the CPU it has used is back within `share` of the time that passed,
    listening to the pool meanwhile. Time the worker spent waiting for the CPU (a busier process ran) counts
    towards its rest, so a worker that was held back does not rest as if it had not been; at most CREDIT seconds
    of unused share carry over, so an idle spell does not turn into a burst that spends a box's quota at once."""

    CREDIT = 0.05
    # The worker rests once it is this many seconds' worth of its share ahead (6 ms of CPU at 0.32 of a core):
    # a step or two in a row between longer rests keeps its caches warmer than a rest after every step, and
    # stays well inside the 100 ms period of a box's quota.
    REST_AT = 0.02

    def __init__(self, conn):
        self.conn, self.share, self.stopped = conn, 1.0, False
        self.debt, self.last = 0.0, time.monotonic()  # CPU seconds used beyond the share, and since when

    def listen(self, timeout: float = 0.0) -> None:
        """Take the pool's messages, waiting up to `timeout` seconds for the first."""
        while not self.stopped and self.conn.poll(timeout):
            match self.conn.recv():
                case Share(cores):
                    self.share = min(1.0, max(0.01, float(cores)))
                case Cancel() | Stop():
                    self.stopped = True
            timeout = 0.0

    def rest_after(self, cpu_seconds: float) -> None:
        """Account for work that took `cpu_seconds` of CPU, and rest while the worker is over its share."""
        now = time.monotonic()
        self.debt = max(-self.CREDIT * self.share, self.debt + cpu_seconds - self.share * (now - self.last))
        self.last = now
        self.listen()
        if self.share >= 1.0 or self.debt <= self.REST_AT * self.share:
            return
        until = now + self.debt / self.share
        while not self.stopped and (left := until - time.monotonic()) > 0:
            self.listen(left)
        now = time.monotonic()
        self.debt = max(0.0, self.debt - self.share * (now - self.last))
        self.last = now


def run_job(conn, raw: dict) -> None:
    """Train the job that `raw` (engine.Settings as a dict) describes, reporting over `conn` until it ends."""
    from core.errors import UnrolledError
    from core.train import tasks
    from core.train.engine import Run, Settings

    began = time.perf_counter()
    try:
        run = Run(Settings(**raw))
    except (UnrolledError, TypeError) as e:
        conn.send(Failed(str(e)))
        return
    s = run.settings
    reporter = Reporter(conn, began)
    budget = Budget(conn)
    text = isinstance(run.task, tasks.Text)
    reason, evaluated, ran = "steps", time.thread_time(), 0  # ran: the steps run so far
    try:
        while ran < s.max_steps:
            budget.listen()
            if budget.stopped:
                reason = "cancelled"
                break
            if time.perf_counter() - began >= s.max_seconds:
                reason = "seconds"
                break
            cpu = time.thread_time()
            reporter.add(ran, run.step(ran))
            ran += 1
            if not run.live:
                reason = "exploded"
                break
            if time.thread_time() - evaluated >= EVALUATE_EVERY:
                reporter.note(evaluation={"step": ran, "scores": run.evaluate()})
                evaluated = time.thread_time()
            if text and ran % s.sample_every == 0:
                reporter.note(
                    samples={"step": ran, "text": {a: run.nets[a].sample(160, seed=ran - 1) for a in run.live}}
                )
            reporter.share = budget.share
            budget.rest_after(time.thread_time() - cpu)
        final = {"step": ran, "scores": run.evaluate()}
        samples = {a: run.nets[a].sample(160, seed=0) for a in run.live} if text else {}
    finally:
        reporter.close()
    result = Result(
        reason=reason,
        ran=ran,
        seconds=time.perf_counter() - began,
        evaluation=final,
        samples=samples,
        exploded=dict(run.stopped),
        weights={a: run.nets[a].weights() for a in run.live},  # an exploded cell has nothing to run
    )
    conn.send(Done(result))


def main(conn) -> None:
    # The lowest priority, absolute (os.nice would add to whatever the worker inherited), before any thread
    # starts: on Linux each thread has its own nice value and a new thread takes its creator's.
    os.setpriority(os.PRIO_PROCESS, 0, 19)
    np.seterr(all="ignore")  # overflow is caught as a non-finite loss or norm, and reported as an explosion
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        match message:
            case Run(settings):
                run_job(conn, settings)
            case Stop():
                return
