"""Typing while someone trains: a class types over the fast path while a job trains with its Train page watching
in Chromium, and a second learner's job waits its turn.

    python -m bench.training_load [--sessions 100] [--rate 4] [--seconds 65] [--alone 15]
                                  [--box MB CORES] [--url URL --pids PID ...] [--json FILE]

One run, against one server, in phases:
1. idle, then alone: the server's CPU with nobody on it, then with one Train page watching its job (the
   page's defaults) and nobody typing: the difference is what a watching page costs the server, and the job's
   steps per second there are the baseline. The learner then stops it.
2. the class: the learner trains again; a second learner's page starts a job that waits behind it; --sessions
   typists type over the fast path (bench/load.py's sessions) for --seconds. Reported: the typists' latency
   and errors, the job's steps per second against the baseline, and how the job ended: with --seconds at least
   its 60 s cap, it must end at the cap ("Done ... the cap in time"), never cancelled. With fewer, the learner
   stops it then.
3. in-process: what the feed (ui/train_feed.py) spends building a frame and a snapshot.
With --box the server and its workers run inside a cgroup of that memory (MB) and CPU (cores), the load and
Chromium outside (bench/box.py; needs root): the box's peak resident memory, OOM kills and throttled periods.
With --url (and --pids, for CPU) it measures a server already running, such as one in a box made by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
import time
from pathlib import Path

from bench.box import Box
from bench.common import CHROMIUM, FLAGS, ROOT, cpu_seconds, percentile, streamlit_server, summary
from bench.load import simulate

CAP = 60.0  # the Train page's time cap (core/train/engine.Settings.max_seconds)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def train_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1600})
    page.goto(url + "/Train")
    page.wait_for_selector("[data-testid=stButton]", timeout=60_000)
    return page


def click(page, name: str) -> None:
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=name, exact=True).click()


def progress(page) -> tuple[int, float]:
    """(steps, seconds) the watching page shows for its job."""
    root = page.locator(".train-live")
    return int(root.get_attribute("data-step") or 0), float(root.get_attribute("data-elapsed") or 0)


def wait_steps(page, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while progress(page)[0] == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the job drew no steps")
        page.wait_for_timeout(200)


def alerts(page) -> list[str]:
    return page.locator("[data-testid=stAlert]").all_inner_texts()


def server_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def descendants(pid: int) -> list[int]:
    """The processes below `pid`, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


class Split:
    """Where the machine's CPU went over a phase: the server processes, their training workers, this load
    generator (its typists and Playwright's calls), and Chromium with Playwright's driver."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.began, self.at = time.monotonic(), self.read()

    def read(self) -> dict:
        workers = [d for p in self.pids for d in descendants(p)]
        served = set(self.pids) | set(workers)
        browser = [d for d in descendants(os.getpid()) if d not in served]
        return {
            "server": tree_cpu(self.pids),
            "workers": tree_cpu(workers),
            "generator": time.process_time(),
            "browser": tree_cpu(browser),
        }

    def cores(self) -> dict:
        now, seconds = self.read(), time.monotonic() - self.began
        return {k: (now[k] - self.at[k]) / seconds for k in now}


def phase_alone(page, pids: list[int], seconds: float) -> dict:
    began, cpu0 = time.monotonic(), server_cpu(pids)
    time.sleep(5)
    idle = (server_cpu(pids) - cpu0) / (time.monotonic() - began)
    click(page, "Train")
    page.wait_for_selector(".train-live", timeout=60_000)
    wait_steps(page)
    step0, at0 = progress(page)
    began, cpu0 = time.monotonic(), server_cpu(pids)
    time.sleep(seconds)
    watching = (server_cpu(pids) - cpu0) / (time.monotonic() - began)
    step1, at1 = progress(page)
    transport = page.locator(".train-live").get_attribute("data-transport")
    click(page, "Stop")
    page.wait_for_selector("[data-testid=stAlert] >> text=Stopped.", timeout=15_000)
    return {
        "idle_cores": idle,
        "watching_cores": watching,
        "page_cores": watching - idle,
        "steps_per_s": (step1 - step0) / max(1e-9, at1 - at0),
        "transport": transport,
    }


def phase_class(browser, page, url: str, pids: list[int], sessions: int, rate: float, seconds: float, box=None) -> dict:
    click(page, "Train")
    page.wait_for_selector(".train-live", timeout=60_000)
    wait_steps(page)
    waiting = train_page(browser, url)  # a second learner, whose job waits for the worker
    click(waiting, "Train")
    waiting.wait_for_selector("[data-testid=stAlert] >> text=/place \\d+ in the queue/", timeout=30_000)
    typed: dict = {}
    typists = threading.Thread(
        target=lambda: typed.update(asyncio.run(simulate(url, sessions, rate, seconds, 0, pids, "fast")))
    )
    step0, at0 = progress(page)
    split = Split(pids)
    began, quota = time.monotonic(), box_quota(box)
    typists.start()
    while typists.is_alive():
        page.wait_for_timeout(1000)
    typists.join()
    cores = split.cores()
    waits = {k: v - quota[k] for k, v in box_quota(box).items()} | {"seconds": time.monotonic() - began}
    step1, at1 = progress(page)
    if seconds >= CAP:
        page.wait_for_selector("[data-testid=stAlert]", timeout=60_000)
    else:
        click(page, "Stop")
        page.wait_for_selector("[data-testid=stAlert] >> text=Stopped.", timeout=15_000)
    said = alerts(page)
    stop = waiting.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop", exact=True)
    if stop.is_enabled():
        stop.click()
    waited = [a for a in alerts(waiting) if "queue" not in a]
    waiting.close()
    return {
        "typing": typed,
        "cores": cores,
        "steps_per_s": (step1 - step0) / max(1e-9, at1 - at0),
        "ended": said,
        "waiting_job": waited,
        "box_waits": waits if box else None,
        "to_cap": any("the cap in time" in s or "the cap in steps" in s for s in said),
        "cancelled": any("Stopped." in s or "ended" in s for s in said) and seconds >= CAP,
    }


def box_quota(box) -> dict:
    """The box's throttled periods and the seconds it waited for its quota so far (zeros without a box)."""
    if box is None:
        return {"throttled": 0, "waited_s": 0.0}
    return {"throttled": box.throttled, "waited_s": box.throttled_seconds}


def feed_costs() -> dict:
    """Milliseconds to build and serialise one frame (a read with new steps) and one snapshot, on a job of 3
    models with 300 messages (60 s at 5 a second) of 10 steps each."""
    from core.train import jobs
    from core.train.cells import TRAINABLE
    from core.train.engine import Settings
    from ui import train_feed

    job = jobs.Job(1, "bench", Settings())
    job.state = "running"
    for n in range(300):
        rows = [
            {"arch": a, "step": n * 10 + i, "loss": 1.0, "norm": 0.5, "clipped": 0.5, "ms": 3.0, "cpu_ms": 3.0}
            for i in range(10)
            for a in TRAINABLE
        ]
        dh = {a: [0.01] * 22 for a in TRAINABLE}
        job.messages.append({"rows": rows, "dh_norms": dh, "ran": n * 10 + 10, "elapsed": 0.2 * n, "share": 1.0})

    def timed(build, repeat: int) -> list[float]:
        out = []
        for _ in range(repeat):
            began = time.perf_counter()
            train_feed.dumps(build())
            out.append((time.perf_counter() - began) * 1000)
        return out

    return {
        "frame_ms": timed(lambda: train_feed.frame(job, 298), 200),
        "nothing_new_ms": timed(lambda: train_feed.frame(job, 300) or {"type": "none"}, 200),
        "snapshot_ms": timed(lambda: train_feed.snapshot(job), 20),
    }


def run(url: str, pids: list[int], args, box=None) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = train_page(browser, url)
        alone = phase_alone(page, pids, args.alone)
        crowd = phase_class(browser, page, url, pids, args.sessions, args.rate, args.seconds, box)
        browser.close()
    return {"alone": alone, "class": crowd}


def report(result: dict, sessions: int) -> None:
    a, c = result["alone"], result["class"]
    print("== one Train page watching its job, nobody typing")
    print(f"  server CPU: idle {a['idle_cores']:.3f} cores, with the page watching {a['watching_cores']:.3f}")
    print(f"  so one watching page costs the server {a['page_cores']:.3f} cores (feed: {a['transport']})")
    print(f"  the job's steps per second alone: {a['steps_per_s']:.1f}")
    t = c["typing"]
    print(f"== {sessions} typing over the fast path while it trains, a second job waiting")
    if t.get("latencies"):
        print(f"  key to the reply with its text: {summary(t['latencies'])}")
    print(f"  errors: {len(t.get('errors', []))}")
    print(f"  server CPU per keystroke: {t.get('cpu_per_key', 0):.1f} ms")
    split = ", ".join(f"{k} {v:.2f}" for k, v in c["cores"].items())
    print(f"  cores used meanwhile: {split} (all {sum(c['cores'].values()):.2f})")
    share = c["steps_per_s"] / a["steps_per_s"] if a["steps_per_s"] else float("nan")
    print(f"  the job's steps per second: {c['steps_per_s']:.1f} ({share:.0%} of alone)")
    print(f"  how it ended: {' | '.join(c['ended']) or '?'}; at its cap: {c['to_cap']}; cancelled: {c['cancelled']}")
    print(f"  the job that waited, when the typing stopped: {' | '.join(c['waiting_job']) or 'running'}")
    if "box" in result:
        b = result["box"]
        print(f"== the box ({b['memory_mb']} MB, {b['cores']:g} cores)")
        print(f"  peak resident {b['peak_mb']:.0f} MB; OOM kills {b['oom_kills']}; throttled periods {b['throttled']}")
        w = c["box_waits"]
        print(
            f"  while they typed ({w['seconds']:.0f} s): throttled in {w['throttled']} periods,"
            f" waiting {w['waited_s']:.1f} s for quota ({w['waited_s'] / w['seconds']:.1%} of the time)"
        )
    f = result["feed"]
    print("== the feed, in-process (ui/train_feed.py)")
    for key, what in (("frame_ms", "a frame of new steps"), ("nothing_new_ms", "a look with nothing new")):
        print(f"  {what}: median {statistics.median(f[key]):.3f} ms, max {max(f[key]):.3f} ms")
    print(f"  a snapshot of a 60 s job: median {statistics.median(f['snapshot_ms']):.1f} ms")
    if t.get("latencies"):
        print(f"  p95 {percentile(t['latencies'], 95):.0f} ms")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rate", type=float, default=4.0, help="characters a second per typist")
    parser.add_argument("--seconds", type=float, default=CAP + 5, help="typing time (at least 60: to the cap)")
    parser.add_argument("--alone", type=float, default=15.0, help="seconds the job trains alone, for the baseline")
    parser.add_argument("--box", nargs=2, type=float, metavar=("MB", "CORES"), help="run the server in a cgroup")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py is served")
    parser.add_argument("--url", help="a running server (default: start `streamlit run app.py`)")
    parser.add_argument("--pids", type=int, nargs="*", default=[], help="its processes, for CPU")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.url:
        result = run(args.url, args.pids, args)
    elif args.box:
        with Box("unrolled-bench", int(args.box[0]), args.box[1]) as box:
            with streamlit_server(args.root, prefix=box.enter) as (url, server):
                result = run(url, [server.pid], args, box)
        result["box"] = {
            "memory_mb": int(args.box[0]),
            "cores": args.box[1],
            "peak_mb": box.peak_mb,
            "oom_kills": box.oom_kills_in_run,
            "throttled": box.throttled_in_run,
        }
    else:
        with streamlit_server(args.root) as (url, server):
            result = run(url, [server.pid], args)
    result["feed"] = feed_costs()
    report(result, args.sessions)
    if args.json:
        args.json.write_text(json.dumps(result, default=float) + "\n")


if __name__ == "__main__":
    main()
