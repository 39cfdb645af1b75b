"""What one keystroke's reply costs the fast path's worker, built in-process: CPU per reply, two checkouts
compared in the same run.

    python -m bench.reply [--baseline-root DIR] [--keys 80] [--repeats 7] [--gaps 8 0]

Each checkout answers in a process of its own: `ui.fast.answer()` on one session's typing (the text grows a
character per request, as bench.load's sessions type, from "neuron" to `keys` characters more, then starts
again), with a pause of `gap` ms before each request. 30 sessions typing 4 characters a second leave the
server's worker about 8 ms between replies, and in that time other work evicts the caches, so a reply costs
more than back to back (gap 0). Thread CPU (CLOCK_THREAD_CPUTIME_ID) per reply; the processes take turns,
block by block, so that a drift in the machine's speed (on these virtual machines it moves by 2x within an
hour) hits each alike; medians over `repeats` blocks. This is the worker's share of bench.load's server CPU
per keystroke; the rest is the WebSocket's frames and the hand-offs on the event loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT

PHRASE = " and the king of Denmark is dead"

# The child that answers, a file of this checkout run by its path in each checkout's directory and PYTHONPATH,
# so that it measures that checkout's ui.fast (a baseline needs no copy of it).
CHILD = Path(__file__).with_name("reply_child.py")


class Checkout:
    def __init__(self, root: Path, keys: int):
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-P", str(CHILD), str(keys), PHRASE],  # -P: not bench/ first on the path (bench/typing.py)
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"{root}: the fast path did not load")

    def block(self, gap_ms: float) -> tuple[float, float]:
        """One pass of the typing: CPU per reply, and the models' share of it, in ms."""
        self.proc.stdin.write(f"{gap_ms}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.root}: the fast path failed")
        reply, models = map(float, line.split())
        return reply, models

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-root", type=Path, help="another checkout, measured in turn with this one")
    parser.add_argument("--keys", type=int, default=80, help="requests per pass (20 s at 4 characters a second)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--gaps", type=float, nargs="+", default=[8.0, 0.0], help="ms before each request")
    args = parser.parse_args(argv)
    roots = {"this checkout": ROOT}
    if args.baseline_root:
        roots["baseline"] = args.baseline_root.resolve()
    checkouts = {name: Checkout(root, args.keys) for name, root in roots.items()}
    got = {(name, gap): [] for name in checkouts for gap in args.gaps}
    for _ in range(args.repeats):
        for gap in args.gaps:
            for name, checkout in checkouts.items():
                got[name, gap].append(checkout.block(gap))
    for checkout in checkouts.values():
        checkout.close()
    print(f"CPU per reply, median (min-max) of {args.repeats} passes of {args.keys} requests; the models' runs")
    for gap in args.gaps:
        print(f"  {gap:g} ms before each request:")
        for name in checkouts:
            replies = [reply for reply, _ in got[name, gap]]
            models = statistics.median(m for _, m in got[name, gap])
            print(
                f"    {name:13} {statistics.median(replies):.2f} ms ({min(replies):.2f}-{max(replies):.2f}),"
                f" of which the models {models:.2f} ms and the rest {statistics.median(replies) - models:.2f} ms"
            )
        if args.baseline_root:
            ratio = statistics.median(r for r, _ in got["this checkout", gap]) / statistics.median(
                r for r, _ in got["baseline", gap]
            )
            print(f"    this checkout / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
