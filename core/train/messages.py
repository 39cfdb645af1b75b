"""Every message of the training pipe, named: what the pool and a worker say to each other, and the states a
job goes through. numpy-free, like the rest of what a worker imports before it pins BLAS.

    pool -> worker   Run(settings)   Share(cores)   Cancel()   Stop()
    worker -> pool   Progress(report) at least 4 times a second while a job runs, then Done(result) or Failed(error)
    the pool itself  Died(exitcode) when its worker's pipe closes or its process is gone

A worker runs one job at a time: Run starts it, and Done or Failed ends it. Messages cross a multiprocessing
Pipe pickled, so both ends import this module. The page reads a job's `messages` (its Reports, in order) and
its `result` (a Result) through the pool (core/train/jobs.py); ui/train_feed.py folds the reports into frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

State = Literal["queued", "running", "done", "failed", "cancelled"]
ENDED: frozenset[State] = frozenset({"done", "failed", "cancelled"})
CancelledBy = Literal["learner", "page", "server"]  # Stop; its page went away; the server shut down
Reason = Literal["steps", "seconds", "cancelled", "exploded"]  # the steps cap, the time cap, a cancel, every cell


class StepRow(TypedDict):
    """One cell's figures for one training step."""

    arch: str  # the cell: rnn, gru, lstm
    step: int  # the step's index, from 0
    loss: float  # nats per scored character
    norm: float  # the global gradient norm before clipping
    clipped: float  # and after (equal when the step was not clipped)
    ms: float  # wall milliseconds
    cpu_ms: float  # the worker thread's CPU milliseconds: BPTT's own cost, however busy the server is


class Scores(TypedDict):
    """A held-out evaluation."""

    step: int  # the steps run when it was made
    scores: dict[str, float]  # cell -> accuracy (recall) or held-out bits per character (text)


class Samples(TypedDict):
    step: int  # the steps run when they were written
    text: dict[str, str]  # cell -> what it wrote (the learner's page shows it as text, never as markup)


class Report(TypedDict):
    """What one Progress message carries: everything since the worker's previous report."""

    rows: list[StepRow]  # the steps run since, every cell's
    dh_norms: dict[str, list[float]]  # cell -> (T,) ||dL/dh_t|| of its latest step
    ran: int  # steps run so far
    elapsed: float  # seconds since the job began
    share: float  # the cores the worker was last allowed (core/train/budget.py)
    evaluation: NotRequired[Scores]  # when one was made since
    samples: NotRequired[Samples]  # text jobs, every Settings.sample_every steps


class Result(TypedDict):
    """A finished job (Done), kept on the Job for its page."""

    reason: Reason
    ran: int  # steps run
    seconds: float
    evaluation: Scores  # the final one
    samples: dict[str, str]  # cell -> a last sample (text jobs; empty for recall)
    exploded: dict[str, str]  # cell -> why it stopped early ("lstm exploded at step 212: ...")
    weights: dict[str, dict]  # cell -> its weights and vocabulary (core/train/cells.Net.weights); not the exploded


@dataclass(frozen=True)
class Run:
    settings: dict  # engine.Settings as a dict (dataclasses.asdict), rebuilt and checked in the worker


@dataclass(frozen=True)
class Share:
    cores: float  # the CPU the worker may use from now on, at most 1 (a worker is one thread)


@dataclass(frozen=True)
class Cancel:
    """End the running job now; it still answers with Done (reason "cancelled")."""


@dataclass(frozen=True)
class Stop:
    """Leave: the worker process exits (the pool is shutting down)."""


@dataclass(frozen=True)
class Progress:
    report: Report


@dataclass(frozen=True)
class Done:
    result: Result


@dataclass(frozen=True)
class Failed:
    error: str  # the job could not run (bad settings): shown to the learner


@dataclass(frozen=True)
class Died:
    exitcode: int | None  # negative: killed by that signal (out of memory, most likely)


ToWorker = Run | Share | Cancel | Stop
FromWorker = Progress | Done | Failed | Died
