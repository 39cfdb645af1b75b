"""The Train page's parts: the controls, the job, and what its progress draws.

Training runs in the process-wide pool of worker processes (core/train/jobs.py), never in the page's thread.
The page reads its job's progress from a fragment that reruns POLL seconds apart while the job is queued or
running. The job lives while the page's session is connected (`connected`): a closed tab ends it within
seconds, a page whose reads come late because the server is busy does not. The progress is folded into a few
lists of rows in the session (Progress), thinned for drawing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.errors import InputError
from core.train import cells, jobs, tasks
from core.train.engine import Settings
from ui import charts
from ui.i18n import t

HIDDEN = (8, 16, 32, 64, 128, 256)
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
THRESHOLDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
K_RANGE = (5, 50)  # the recall lag the learner picks
T_RANGE = (10, 200)  # the unroll the learner picks for text
POLL = 0.4  # seconds between progress reads: 2.5 a second
SLOWED = 0.5  # CPU seconds per second of the job's last SLOWED_OVER seconds below which the page says so
SLOWED_OVER = 2.0
MAX_POINTS = 300  # points per model and chart: longer runs are averaged into this many bins
HEAT_ROWS = 60  # snapshots of the gradient through time kept for the heatmap
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


@dataclass
class Progress:
    """A job's progress so far, folded from its messages."""

    job_id: int
    read: int = 0  # messages folded in
    step: int = 0
    elapsed: float = 0.0
    steps: list = field(default_factory=list)  # every step: {arch, step, loss, norm, clipped, ms}
    evaluations: list = field(default_factory=list)  # {step, model, score}
    latest: dict = field(default_factory=dict)  # arch -> ||dL/dh_t|| of its latest step
    heat: list = field(default_factory=list)  # (step, arch, norms) snapshots
    samples: dict = field(default_factory=dict)  # arch -> (step, text)
    notes: list = field(default_factory=list)  # the task's remarks: (kind, figures)
    cpu: list = field(default_factory=list)  # (elapsed, the job's CPU seconds so far), one per message
    share: float = 1.0  # the cores the job's worker was last allowed

    def fold(self, messages: list) -> None:
        for m in messages:
            self.read += 1
            self.step, self.elapsed = m["step"], m["elapsed"]
            self.steps += m["steps"]
            spent = sum(x["cpu_ms"] for x in m["steps"]) / 1000
            self.cpu.append((self.elapsed, (self.cpu[-1][1] if self.cpu else 0.0) + spent))
            self.share = m.get("share", self.share)
            for arch, norms in m["dh_norms"].items():
                self.latest[arch] = norms
                self.heat.append((self.step, arch, norms))
            if "evaluation" in m:
                e = m["evaluation"]
                self.evaluations += [{"step": e["step"], "model": a, "score": s} for a, s in e["scores"].items()]
            if "samples" in m:
                self.samples |= {a: (m["samples"]["step"], text) for a, text in m["samples"]["text"].items()}
            if m.get("notes"):
                self.notes = m["notes"]
        self.heat = thin_snapshots(self.heat, HEAT_ROWS)
        self.cpu = [c for c in self.cpu if c[0] >= self.elapsed - 2 * SLOWED_OVER]

    def slowed(self) -> bool:
        """Whether the job got less than half a core's time over its last SLOWED_OVER seconds (wall time more
        than twice CPU time): the server is serving other people first."""
        recent = [c for c in self.cpu if c[0] >= self.elapsed - SLOWED_OVER]
        if len(recent) < 2 or recent[-1][0] - recent[0][0] < SLOWED_OVER * 0.75:
            return False
        return (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0]) < SLOWED


def thin_snapshots(heat: list, rows: int) -> list:
    """At most `rows` snapshots per model, spread evenly over the run."""
    out = []
    for arch in dict.fromkeys(a for _, a, _ in heat):
        mine = [h for h in heat if h[1] == arch]
        keep = np.unique(np.linspace(0, len(mine) - 1, min(rows, len(mine))).round().astype(int))
        out += [mine[i] for i in keep]
    return out


def binned(
    steps: list, value: str, names: dict[str, str], how=np.mean, points: int = MAX_POINTS, flag=None
) -> list[dict]:
    """One row per model and bin of steps: {step, model, value}; every step while there are few. With `flag`
    (a test of one step), each row also says whether any step in its bin passed it."""
    rows = []
    for arch in dict.fromkeys(s["arch"] for s in steps):
        mine = [s for s in steps if s["arch"] == arch]
        size = max(1, math.ceil(len(mine) / points))
        for start in range(0, len(mine), size):
            chunk = mine[start : start + size]
            rows.append(
                {"step": chunk[-1]["step"] + 1, "model": names[arch], value: float(how([c[value] for c in chunk]))}
                | ({"flag": any(flag(c) for c in chunk)} if flag else {})
            )
    return rows


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
    return Settings(task="text", text=text, steps=unroll, **common).checked()


def remark(kind: str, figures: dict) -> str:
    """One of the text task's remarks (core/train/tasks.py), in the page's language."""
    return t(f"train.note_{kind}", **figures)


def check_text(settings: Settings) -> tuple[list[str], str]:
    """What the page says about the text before training: what was done to it (cut, characters dropped) and
    the characters read as the unknown token; InputError if it cannot train. The worker builds the same task
    again from the same text."""
    if settings.task != "text" or settings.text is None:
        return [], ""
    task = tasks.Text.from_text(settings.text, steps=settings.steps)
    return [remark(kind, figures) for kind, figures in task.remarks], task.unknown


def start(settings: Settings) -> None:
    job = jobs.pool().submit(settings, owner=owner(), watching=connected())
    st.session_state["train_job"] = job.id
    st.session_state["train_progress"] = Progress(job.id)


def current_job():
    job_id, pool = st.session_state.get("train_job"), jobs.pool()
    return None if job_id is None or pool is None else pool.get(job_id)


# -----------------------------------------------------------------------------
# what progress draws


def draw(job, progress: Progress) -> None:
    s = job.settings
    text_task = s.task == "text"
    caps = max(progress.step / s.max_steps, progress.elapsed / s.max_seconds)
    st.progress(
        min(1.0, caps),
        text=t(
            "train.progress",
            step=progress.step,
            steps=s.max_steps,
            seconds=f"{progress.elapsed:.0f}",
            cap=f"{s.max_seconds:g}",
        ),
    )
    if not job.ended and progress.slowed():
        st.info(t("train.slowed", share=f"{progress.share:.2f}"), icon=":material/hourglass_top:")
    if progress.notes:
        st.markdown(" · ".join(remark(kind, figures) for kind, figures in progress.notes))
    names = arch_names()
    steps = [dict(x, loss=x["loss"] / math.log(2)) for x in progress.steps]
    left, right = st.columns(2)
    with left:
        rows = binned(steps, "loss", names)
        title = t("train.loss_bits")
        chart(
            lambda r: charts.lines(r, "step", "loss", "model", t("train.step"), title, points=False),
            rows,
            "train_loss",
            t("train.loss_alt", summary=last_values(rows, "loss", ".2f")),
        )
    with right:
        if progress.evaluations:
            title = t("train.heldout_bits") if text_task else t("train.accuracy")
            rows = [{"step": e["step"], "model": names[e["model"]], "score": e["score"]} for e in progress.evaluations]
            chart(
                lambda r: charts.lines(r, "step", "score", "model", t("train.step"), title, points=len(rows) < 60),
                rows,
                "train_eval",
                t("train.eval_alt", what=title, summary=last_values(rows, "score", ".2f")),
            )
        else:
            st.markdown(t("train.eval_soon"))
    st.subheader(t("train.through_time"))
    st.markdown(t("train.through_time_help"))
    rows = [
        {"distance": j, "model": names[a], "norm": v}
        for a, norms in progress.latest.items()
        for j, v in enumerate(reversed(norms))
        if v > 0
    ]
    if rows:
        chart(
            lambda r: charts.lines(
                r, "distance", "norm", "model", t("train.distance"), t("train.grad_norm_t"), log_y=True, points=False
            ),
            rows,
            "train_dh",
            t("train.dh_alt", summary=dh_summary(progress.latest)),
        )
    heat = [
        {"step": step, "model": names[a], "distance": j, "v": math.log10(v) if v > 0 else None}
        for step, a, norms in progress.heat
        for j, v in enumerate(reversed(norms))
    ]
    if heat:
        chart(
            lambda r: charts.heatmap(
                r, "distance", "step", "model", t("train.distance"), t("train.step"), "log10 ||dL/dh||"
            ),
            heat,
            "train_heat",
            t("train.heat_alt"),
        )
    st.subheader(t("train.clipping_title"))
    was_clipped = lambda x: x["clipped"] < x["norm"] * (1 - 1e-6)  # noqa: E731
    rows = binned(progress.steps, "norm", names, how=np.max, flag=was_clipped)
    clipped = sum(1 for x in progress.steps if was_clipped(x))
    left, right = st.columns(2)
    with left:
        chart(
            lambda r: charts.lines(
                r,
                "step",
                "norm",
                "model",
                t("train.step"),
                t("train.norm_before"),
                log_y=True,
                rule=s.clip,
                points=False,
                flag="flag",
            ),
            rows,
            "train_norm",
            t("train.norm_alt", clipped=clipped, total=len(progress.steps), summary=last_values(rows, "norm", ".3g")),
        )
        st.markdown(t("train.clipped", clipped=clipped, total=len(progress.steps)) if s.clip else t("train.no_clip"))
    with right:
        rows = binned(progress.steps, "cpu_ms", names, how=np.median)
        chart(
            lambda r: charts.lines(r, "step", "cpu_ms", "model", t("train.step"), t("train.ms"), points=False),
            rows,
            "train_ms",
            t("train.ms_alt", summary=last_values(rows, "cpu_ms", ".1f"), unroll=s.unroll),
        )
        cost = sorted(jobs.pool().timings.items(), key=lambda item: item[0][1])
        rows = [{"T": unroll, "model": names[a], "ms": ms} for (a, unroll), ms in cost if a in names]
        if rows:
            chart(
                lambda r: charts.lines(
                    r, "T", "ms", "model", t("train.unroll_axis"), t("train.ms"), height=180, points=True
                ),
                rows,
                "train_cost",
                t("train.cost_alt", summary=", ".join(f"{r['model']} T={r['T']} {r['ms']:.1f} ms" for r in rows)),
            )
    if text_task and progress.samples:
        st.subheader(t("train.samples"))
        for a, (step, text) in progress.samples.items():
            st.markdown(t("train.sample_of", model=names[a], step=step))
            st.text(text)


def last_values(rows: list[dict], key: str, fmt: str) -> str:
    last = {}
    for r in rows:
        last[r["model"]] = r[key]
    return ", ".join(f"{m} {format(v, fmt)}" for m, v in last.items())


def dh_summary(latest: dict) -> str:
    parts = []
    for a, norms in latest.items():
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else 0.0
        parts.append(f"{arch_name(a)} {ratio:.1e}")
    return ", ".join(parts)


def chart(build, rows: list[dict], key: str, alt_text: str) -> None:
    """build(rows) -> an Altair chart; drawn with every row, without Altair converting each (charts.spec_with_rows)."""
    st.vega_lite_chart(charts.spec_with_rows(build, rows), key=key, alt=alt_text)
