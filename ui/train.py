"""The Train page's parts: the controls, the job, and what its progress draws.

Training runs in the process-wide pool of worker processes (core/train/jobs.py), never in the page's thread.
The job lives while the page's session is connected (`connected`): a closed tab ends it within seconds, a
page whose reads come late because the server is busy does not. Its progress is drawn by a component in the
browser (`live_charts`, ui/web/train.js), fed by ui/train_feed.py: a snapshot with each page run, then only
what is new over the feed's WebSocket, so a watching page costs the server next to nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.errors import InputError
from core.train import cells, jobs, tasks
from core.train.backend import REGISTRY as TRAINED
from core.train.backend import TrainedModel
from core.train.engine import Settings
from ui import session, train_feed
from ui.assets import script, styles
from ui.i18n import t

HIDDEN = (8, 16, 32, 64, 128, 256)
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
THRESHOLDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
K_RANGE = (5, 50)  # the recall lag the learner picks
T_RANGE = (10, 200)  # the unroll the learner picks for text
POLL = 0.4  # seconds between a queued job's reads, and between snapshots when the feed cannot open
EXPERIMENTS = ("memory", "text")


def owner() -> str:
    """This session's name in the pool (at most 2 jobs each)."""
    return st.session_state.setdefault("train_owner", uuid.uuid4().hex)


def connected() -> Callable[[], bool] | None:
    """Whether this page's session still has its WebSocket to the server, asked from the pool's threads.
    Streamlit has no close hook, but its runtime knows which sessions are connected (Runtime.is_active_session,
    safe from any thread): a closed tab disconnects at once, while a server too busy to run the page's timer
    keeps the connection. None outside a served session."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session = Runtime.instance(), ctx.session_id
    return lambda: bool(runtime.is_active_session(session))


def arch_name(arch: str) -> str:
    return t(f"arch.{arch}")


def arch_names() -> dict[str, str]:
    """Every trainable cell's name in the page's language, asked once per draw: t() reads the session's
    language each time, which thousands of chart rows made a second's work."""
    return {a: arch_name(a) for a in cells.TRAINABLE}


# -----------------------------------------------------------------------------
# controls


def settings_from_controls(experiment: str) -> Settings:
    """The learner's choices as engine settings; InputError with a clear message when they cannot train."""
    left, middle, right = st.columns(3)
    chosen = left.multiselect(
        t("train.cells"), list(cells.TRAINABLE), default=list(cells.TRAINABLE), format_func=arch_name, key="train_cells"
    )
    hidden = left.select_slider(t("train.hidden"), HIDDEN, value=64, key="train_hidden")
    lr = middle.select_slider(t("train.lr"), RATES, value=1e-2, format_func=lambda v: f"{v:g}", key="train_lr")
    clip_on = middle.toggle(t("train.clip"), value=True, key="train_clip_on")
    threshold = middle.select_slider(
        t("train.threshold"),
        THRESHOLDS,
        value=1.0,
        format_func=lambda v: f"{v:g}",
        disabled=not clip_on,
        key="train_clip",
    )
    common = {"cells": tuple(chosen), "hidden": hidden, "lr": lr, "clip": threshold if clip_on else None}
    if experiment == "memory":
        k = right.slider(t("train.k"), *K_RANGE, value=20, key="train_k")
        curriculum = right.toggle(t("train.curriculum"), value=False, help=t("train.curriculum_help"), key="train_curr")
        if not chosen:
            raise InputError(t("train.no_cells"))
        max_steps = Settings().max_steps
        return Settings(task="recall", k=k, curriculum=max_steps // 2 if curriculum else 0, **common).checked()
    unroll = right.slider(t("train.unroll"), *T_RANGE, value=50, key="train_unroll")
    source = right.radio(
        t("train.source"), ["excerpt", "own"], format_func=lambda s: t(f"train.source_{s}"), key="train_source"
    )
    text = None
    if source == "own":
        text = st.text_area(t("train.paste"), key="train_text", height=160, placeholder=t("train.paste_hint"))
    if not chosen:
        raise InputError(t("train.no_cells"))
    return Settings(task="text", text=text, seq_len=unroll, **common).checked()


def note_text(note: tasks.Note) -> str:
    """One of the text task's notes, in the page's language."""
    return t(f"train.note_{note.kind}", **note.figures)


def check_text(settings: Settings) -> tuple[list[str], str]:
    """What the page says about the text before training: what was done to it (cut, characters dropped) and
    the characters read as the unknown token; InputError if it cannot train. The worker builds the same task
    again from the same text."""
    if settings.task != "text" or settings.text is None:
        return [], ""
    task = tasks.Text.from_text(settings.text, seq_len=settings.seq_len)
    return [note_text(note) for note in task.notes], task.unknown


# -----------------------------------------------------------------------------
# the job's life: start, stop, reset, and what a finished one leaves

SESSION_KEYS = ("train_job", "train_snapshots", "train_notes", "train_drawn_end", "train_feed_token")


def start(settings: Settings) -> None:
    """Submit a job for this session (InputError when it may not: 2 jobs already, a full queue), and say what
    was done to its text."""
    notes, unknown = check_text(settings)
    job = jobs.pool().submit(settings, owner=owner(), watching=connected())
    st.session_state["train_job"] = job.id
    st.session_state["train_notes"] = notes, unknown
    st.session_state.pop("train_snapshots", None)


def current_job() -> jobs.Job | None:
    job_id, pool = st.session_state.get("train_job"), jobs.pool()
    return None if job_id is None or pool is None else pool.get(job_id)


def stop(job: jobs.Job) -> None:
    """The learner's Stop: the job ends within CANCEL_WITHIN seconds, and its page says "Stopped."."""
    jobs.pool().cancel(job, by="learner")


def reset(job: jobs.Job | None) -> None:
    """Forget the job (stopping it first) and everything the page kept of it."""
    if job is not None:
        jobs.pool().cancel(job, by="learner")
        jobs.pool().forget(job)
    for key in SESSION_KEYS:
        st.session_state.pop(key, None)


def trained_models(job: jobs.Job) -> dict[str, TrainedModel]:
    """A finished text job's cells as models the main page runs beside the shipped ones (none for an exploded
    cell)."""
    r = job.result
    bits = r["evaluation"]["scores"]
    return {
        f"yours-{a}": TrainedModel(f"yours-{a}", w, r["ran"], r["seconds"], bits.get(a))
        for a, w in r["weights"].items()
    }


def keep_trained(job: jobs.Job) -> None:
    """Put the job's models on the main page for this session: the session owns them (its state holds them),
    the process-wide registry only finds them by the page's token (core/train/backend.py)."""
    st.session_state["trained_models"] = TRAINED.put(session.page_token(), trained_models(job))


# -----------------------------------------------------------------------------
# what progress draws

FEED_STRINGS = (  # ui/web/train.js fills their {placeholders}
    "progress",
    "starting",
    "slowed",
    "loss_bits",
    "loss_alt",
    "heldout_bits",
    "accuracy",
    "eval_alt",
    "eval_soon",
    "through_time",
    "through_time_help",
    "grad_norm_t",
    "distance",
    "dh_alt",
    "heat_alt",
    "clipping_title",
    "norm_before",
    "norm_alt",
    "clipped",
    "no_clip",
    "ms",
    "ms_alt",
    "unroll_axis",
    "cost_alt",
    "samples",
    "sample_of",
    "step",
)

train_component = st.components.v2.component("unrolled_train", js=script("train.js"), css=styles("train.css"))


def feed_token(job) -> str:
    """The token of this job's feed, made once per job: a rerun must not sign anew."""
    held = st.session_state.get("train_feed_token")
    if held is None or held[0] != job.id:
        held = st.session_state["train_feed_token"] = (job.id, train_feed.job_token(job.id))
    return held[1]


def live_charts(job, live: bool):
    """The job's charts, drawn in the browser from a snapshot; with `live`, the browser then follows the job
    over the feed. Returns the component's result: `ended` when the feed saw the job end, `fallback` when the
    feed could not open (the page then sends snapshots from a fragment instead)."""
    s = job.settings
    cost = sorted(jobs.pool().timings.items(), key=lambda item: item[0][1])
    data = {
        "job": job.id,
        "live": live,
        "ended": job.ended,
        "route": train_feed.TRAIN_ROUTE.lstrip("/"),
        "token": feed_token(job),
        "snapshot": train_feed.snapshot(job),
        "strings": {key: t(f"train.{key}") for key in FEED_STRINGS},
        "names": arch_names(),
        "models": [a for a in cells.TRAINABLE if a in s.cells],
        "max_steps": s.max_steps,
        "max_seconds": s.max_seconds,
        "clip": s.clip,
        "text_task": s.task == "text",
        "unroll": s.unroll,
        "cost": [{"T": unroll, "model": a, "ms": ms} for (a, unroll), ms in cost if a in cells.TRAINABLE],
        "max_points": train_feed.MAX_POINTS,
        "heat_rows": train_feed.HEAT_ROWS,
    }
    return train_component(key="train_live", data=data, on_ended_change=lambda: None, on_fallback_change=lambda: None)
