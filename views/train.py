"""Train it yourself: RNN, LSTM and GRU learn side by side, in worker processes, with gradients through time
drawn as they learn."""

from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.train import jobs
from ui import panels
from ui import train as ui
from ui.i18n import t


def queued_panel() -> None:
    """Reruns POLL seconds apart while the job waits for a worker; the whole page once it runs."""
    job = ui.current_job()
    if job is None:
        return
    if job.state == "queued":
        st.info(t("train.queued", place=(jobs.pool().position(job) or 0) + 1))
        return
    st.rerun()  # the whole page: the charts mount and follow the job over the feed


def snapshots_panel() -> None:
    """The fallback when the feed cannot open (a proxy that forwards only Streamlit's own paths): reruns POLL
    seconds apart, each sending a whole snapshot; the whole page once the job ends."""
    job = ui.current_job()
    if job is None:
        return
    ui.live_charts(job, live=False)
    if job.ended and st.session_state.get("train_drawn_end") != job.id:
        st.session_state["train_drawn_end"] = job.id
        st.rerun()


def progress(job) -> None:
    if job.state == "queued":
        st.fragment(run_every=ui.POLL)(queued_panel)()
    elif job.ended or not st.session_state.get("train_snapshots"):
        result = ui.live_charts(job, live=not job.ended)
        if result.fallback and not job.ended:
            st.session_state["train_snapshots"] = True
            st.rerun()
    else:
        st.fragment(run_every=ui.POLL)(snapshots_panel)()


def type_with(job) -> None:
    """The trained models go to the main page, beside the shipped ones, for this session."""
    weights = (job.result or {}).get("weights") or {}
    if not weights:
        return
    if job.settings.task != "text":
        st.markdown(t("train.type_text_only"))
        return
    if st.button(t("train.type_with"), help=t("train.type_help"), icon=":material/keyboard:", key="train_type"):
        ui.keep_trained(job)
        panels.go_to_main_page()


def outcome(job) -> None:
    if job.state == "failed":
        st.error(t("train.failed", problem=job.error))
    elif job.state == "cancelled" and job.cancelled_by in ("page", "server"):
        st.warning(t(f"train.cancelled_{job.cancelled_by}", seconds=f"{jobs.ABANDON_AFTER:g}"))
    elif job.state == "cancelled":
        st.info(t("train.cancelled"))
    elif job.state == "done":
        reason = job.result["reason"]
        st.success(t(f"train.done_{reason}", steps=job.result["ran"], seconds=f"{job.result['seconds']:.0f}"))
    for arch, why in ((job.result or {}).get("exploded") or {}).items():
        st.warning(t("train.exploded", model=ui.arch_name(arch), problem=why))
    type_with(job)


def main() -> None:
    st.set_page_config(page_title=t("train.tab"), page_icon="🔁", layout="wide")
    st.title(t("nav.train"))
    panels.prose("train")
    experiment = st.radio(
        t("train.experiment"),
        ui.EXPERIMENTS,
        format_func=lambda e: t(f"train.experiment_{e}"),
        horizontal=True,
        key="train_experiment",
    )
    st.markdown(t(f"train.explain_{experiment}"))
    if jobs.pool() is None:
        st.info(t("train.off"), icon=":material/power_off:")
        return
    problem, settings = None, None
    try:
        settings = ui.settings_from_controls(experiment)
    except InputError as e:
        problem = str(e)
    job = ui.current_job()
    active = job is not None and not job.ended
    go, stop, reset = st.columns([1, 1, 6])
    if go.button(t("train.train"), type="primary", disabled=active, key="train_go"):
        try:
            if problem:
                raise InputError(problem)
            ui.start(settings)
            st.rerun()
        except InputError as e:
            st.error(str(e))
    if stop.button(t("train.stop"), disabled=not active, key="train_stop"):
        ui.stop(job)
        st.rerun()
    if reset.button(t("train.reset"), disabled=job is None, key="train_reset"):
        ui.reset(job)
        st.rerun()
    notes, unknown = st.session_state.get("train_notes", ([], ""))
    for note in notes:  # the engine's own words, never the learner's text
        st.info(note)
    if unknown:  # the learner's characters: shown as text, never as markdown
        st.markdown(t("train.unknown_chars"))
        st.code(" ".join(repr(c)[1:-1] for c in unknown[:60]), language=None, wrap_lines=True)
    if problem and not active:
        st.warning(problem)
    if job is None:
        st.markdown(t("train.idle"))
        return
    if job.ended:
        outcome(job)
    progress(job)


main()
