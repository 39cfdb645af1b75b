"""What handing a keystroke to a worker thread and back costs the server in CPU, on this machine.

    python -m bench.handoff [--gaps 8 2.5] [--rounds 500] [--repeats 5]

The fast path (ui/fast.py) reads each message on the event loop, gives the model work to one worker thread,
and sends the reply from the loop again: two wake-ups of a sleeping thread per keystroke. Here the loop hands
a no-op to a worker and awaits it, `rounds` times with a pause of `gap` ms before each (30 sessions typing 4
characters a second leave about 8 ms between keys, 100 about 2.5 ms), against the same pauses with no
hand-off. Two kinds of worker: a one-thread ThreadPoolExecutor through `run_in_executor`, and a thread of
its own reading a SimpleQueue that settles an asyncio future with one call_soon_threadsafe (what
ui.fast.Replier does). Process CPU (CLOCK_PROCESS_CPUTIME_ID) per round: the median over `repeats` blocks,
run in turn so that a drift in the machine's speed hits each alike. On a virtual machine a wake-up can cost
far more than the work it wakes for.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def nothing() -> None:
    pass


class QueueWorker:
    """ui.fast.Replier's hand-off, with a no-op for the job."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            loop, future = job
            nothing()
            loop.call_soon_threadsafe(future.set_result, None)


async def block(gap: float, rounds: int, kind: str, executor: ThreadPoolExecutor, worker: QueueWorker) -> float:
    """Process CPU per round, in ms."""
    loop = asyncio.get_running_loop()
    began = time.process_time()
    for _ in range(rounds):
        await asyncio.sleep(gap)
        if kind == "executor":
            await loop.run_in_executor(executor, nothing)
        elif kind == "queue":
            future = loop.create_future()
            worker.jobs.put((loop, future))
            await future
        else:
            nothing()
    return (time.process_time() - began) / rounds * 1000


async def measure(gaps: list[float], rounds: int, repeats: int) -> None:
    worker = QueueWorker()
    with ThreadPoolExecutor(1) as executor:
        await asyncio.get_running_loop().run_in_executor(executor, nothing)  # the thread exists before timing
        for gap in gaps:
            cpu: dict[str, list[float]] = {"none": [], "executor": [], "queue": []}
            for _ in range(repeats):
                for kind in cpu:
                    cpu[kind].append(await block(gap / 1000, rounds, kind, executor, worker))
            alone = statistics.median(cpu["none"])
            print(f"pause {gap:g} ms: CPU per round without a hand-off {alone:.3f} ms; a hand-off and back costs")
            for kind in ("executor", "queue"):
                extra = [c - a for c, a in zip(cpu[kind], cpu["none"], strict=True)]
                spread = f"blocks: {min(extra):.3f} to {max(extra):.3f}"
                print(f"  {kind:9s}{statistics.median(extra):.3f} ms more ({spread})")
    worker.jobs.put(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gaps", type=float, nargs="+", default=[8.0, 2.5], help="pauses before each round, ms")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.gaps, args.rounds, args.repeats))


if __name__ == "__main__":
    main()
