"""The worker pool, with real worker processes: progress, the queue, cancelling, a dying worker, limits."""

from __future__ import annotations

import os
import time

import pytest

from core.errors import InputError
from core.train import jobs
from core.train.engine import Settings

QUICK = Settings(task="recall", k=5, hidden=16, max_steps=40)
LONG = Settings(task="text", hidden=64, max_steps=10**6, max_seconds=30)


@pytest.fixture
def pool():
    p = jobs.Pool(workers=1)
    yield p
    p.shutdown()


def wait_running(pool, job, timeout=30):
    deadline = time.monotonic() + timeout
    while job.state != "running" or not job.messages:
        assert time.monotonic() < deadline, f"{job.state}: {job.error}"
        time.sleep(0.05)


def test_a_job_trains_every_cell_and_hands_back_weights(pool):
    job = pool.submit(QUICK, owner="a")
    assert pool.wait(job, 60), job.state
    assert job.state == "done", job.error
    result = job.result
    assert result["reason"] == "steps" and result["steps"] == 40
    assert set(result["weights"]) == set(QUICK.cells)
    lstm = result["weights"]["lstm"]
    assert lstm["arch"] == "lstm" and lstm["vocab"][0] == "<unk>" and lstm["params"]["w_hh"].shape == (64, 16)
    steps = [s for m in job.messages for s in m["steps"]]
    assert sorted({s["step"] for s in steps}) == list(range(40))
    assert {s["arch"] for s in steps} == set(QUICK.cells)
    assert all(len(m["dh_norms"][a]) == QUICK.k + 2 for m in job.messages if m["dh_norms"] for a in m["dh_norms"])


def test_progress_arrives_at_least_four_times_a_second_and_the_time_cap_holds(pool):
    job = pool.submit(Settings(task="text", cells=("lstm",), hidden=256, steps=200, max_seconds=3), owner="a")
    assert pool.wait(job, 30)
    assert job.state == "done" and job.result["reason"] == "seconds"
    ran = job.finished - job.started
    assert ran < 3 + 2.5, ran  # the cap, plus a last evaluation and the process start
    times = [m["elapsed"] for m in job.messages]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 4 * 2.5 and max(gaps) < 0.26, gaps


def test_a_second_job_waits_its_turn_and_cancel_ends_the_first_within_five_seconds(pool):
    first = pool.submit(LONG, owner="a")
    second = pool.submit(QUICK, owner="b")
    wait_running(pool, first)
    assert pool.position(second) == 0 and pool.position(first) is None
    asked = time.monotonic()
    pool.cancel(first)
    assert pool.wait(first, 10)
    assert first.state == "cancelled" and time.monotonic() - asked < 5
    assert pool.wait(second, 60) and second.state == "done"


def test_a_queued_job_can_be_cancelled_before_it_runs(pool):
    first = pool.submit(LONG, owner="a")
    second = pool.submit(QUICK, owner="b")
    pool.cancel(second)
    assert second.state == "cancelled" and pool.position(second) is None
    pool.cancel(first)
    assert pool.wait(first, 10)


def test_one_owner_cannot_fill_the_queue(pool):
    accepted, refused = [], []
    for _ in range(10):  # ten clicks in a second
        try:
            accepted.append(pool.submit(LONG, owner="eager"))
        except InputError as e:
            refused.append(str(e))
    assert len(accepted) == jobs.MAX_PER_OWNER and len(refused) == 10 - jobs.MAX_PER_OWNER
    assert "already have 2 training jobs" in refused[0]
    pool.submit(QUICK, owner="someone else")  # others still get in
    for job in accepted:
        pool.cancel(job)


def test_a_worker_that_dies_fails_its_job_only_and_is_replaced(pool):
    job = pool.submit(LONG, owner="a")
    wait_running(pool, job)
    pool.slots[0].process.kill()
    assert pool.wait(job, 10)
    assert job.state == "failed" and "stopped" in job.error
    after = pool.submit(QUICK, owner="a")
    assert pool.wait(after, 60) and after.state == "done", after.error


def test_bad_settings_fail_the_job_with_the_message_and_the_worker_goes_on(pool):
    job = pool.submit(Settings(task="text", text="too short"), owner="a")
    assert pool.wait(job, 30)
    assert job.state == "failed" and "too short" in job.error
    after = pool.submit(QUICK, owner="a")
    assert pool.wait(after, 60) and after.state == "done"


BLAS_THREADS = """
import ctypes, glob, os, sys
if sys.argv[1] == "worker":
    import core.train.worker  # what the forkserver preloads before anything else
import numpy
(lib,) = glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs", "libscipy_openblas*.so"))
print(ctypes.CDLL(lib).scipy_openblas_get_num_threads64_())
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: BLAS has one thread either way")
def test_workers_run_blas_on_one_thread():
    """numpy's OpenBLAS, asked for its thread count: 1 once the worker module is loaded first, one per core
    without it (the control, so that the test could fail)."""
    import subprocess
    import sys

    def threads(mode: str) -> int:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
        run = subprocess.run([sys.executable, "-c", BLAS_THREADS, mode], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    assert threads("worker") == 1
    assert threads("plain") > 1


def test_the_default_pool_size_leaves_a_core_for_the_server(monkeypatch):
    for cores, workers in [(1, 1), (2, 1), (3, 2), (64, 2)]:
        monkeypatch.setattr(jobs, "available_cores", lambda c=cores: c)
        assert jobs.default_workers() == workers


def test_cores_come_from_the_cgroup_quota(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert jobs.cgroup_cores(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert jobs.cgroup_cores(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert jobs.cgroup_cores(v1) == 0.5
    monkeypatch.setattr(jobs, "cgroup_cores", lambda: 1.5)
    assert jobs.available_cores() == 1


def test_a_job_nobody_reads_is_cancelled():
    """Streamlit has no close hook: a tab that went away simply stops asking for progress."""
    p = jobs.Pool(workers=1, abandon_after=1.0)
    try:
        watched = p.submit(Settings(task="recall", k=5, hidden=16, max_seconds=30, max_steps=10**6), owner="a")
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            watched.read()
            time.sleep(0.2)
        assert watched.state == "running"
        began = time.monotonic()
        assert p.wait(watched, 10) and watched.state == "cancelled"
        assert time.monotonic() - began < 1.0 + jobs.CANCEL_WITHIN + 2
        left = p.submit(LONG, owner="b")
        queued = p.submit(QUICK, owner="c")  # waits behind `left`, unread
        assert p.wait(left, 10) and left.state == "cancelled"
        assert p.wait(queued, 10) and queued.state == "cancelled" and queued.error == "nobody was watching it any more"
    finally:
        p.shutdown()


def test_old_ended_jobs_are_dropped(pool):
    for _ in range(jobs.MAX_ENDED + 3):
        job = pool.submit(QUICK, owner="a")
        pool.cancel(job)
        assert pool.wait(job, 10)
    assert len(pool.jobs) <= jobs.MAX_ENDED


def test_the_pool_records_the_cost_of_a_step_against_t(pool):
    for unroll in (10, 40):
        job = pool.submit(Settings(task="text", cells=("rnn",), steps=unroll, max_steps=30), owner="a")
        assert pool.wait(job, 60) and job.state == "done"
    assert set(pool.timings) == {("rnn", 10), ("rnn", 40)}
    assert pool.timings[("rnn", 40)] > pool.timings[("rnn", 10)]  # BPTT's cost grows with T
