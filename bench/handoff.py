"""What handing a keystroke to a worker thread and back costs the server in CPU, on this machine.

    python -m bench.handoff [--gaps 8 2.5] [--rounds 500] [--repeats 5]

The fast path (ui/fast.py) reads each message on the event loop, gives the model work to one worker thread,
and sends the reply from the loop again: two wake-ups of a sleeping thread per keystroke. Here the loop hands
a no-op to a one-thread executor and awaits it, `rounds` times with a pause of `gap` ms before each (30
sessions typing 4 characters a second leave about 8 ms between keys, 100 about 2.5 ms), against the same
pauses with no hand-off. Process CPU (CLOCK_PROCESS_CPUTIME_ID) per round, the median and the spread over
`repeats` blocks. On a virtual machine a wake-up can cost far more than the work it wakes for.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor


def nothing() -> None:
    pass


async def block(gap: float, rounds: int, hand_off: bool, executor: ThreadPoolExecutor) -> float:
    """Process CPU per round, in ms."""
    loop = asyncio.get_running_loop()
    began = time.process_time()
    for _ in range(rounds):
        await asyncio.sleep(gap)
        if hand_off:
            await loop.run_in_executor(executor, nothing)
        else:
            nothing()
    return (time.process_time() - began) / rounds * 1000


async def measure(gaps: list[float], rounds: int, repeats: int) -> None:
    with ThreadPoolExecutor(1) as executor:
        await asyncio.get_running_loop().run_in_executor(executor, nothing)  # the thread exists before timing
        for gap in gaps:
            handed, alone = [], []
            for _ in range(repeats):  # interleaved, so that a drift in the machine's speed hits both alike
                handed.append(await block(gap / 1000, rounds, True, executor))
                alone.append(await block(gap / 1000, rounds, False, executor))
            extra = [h - a for h, a in zip(handed, alone, strict=True)]
            print(
                f"pause {gap:g} ms: CPU per round with a hand-off {statistics.median(handed):.3f} ms, without "
                f"{statistics.median(alone):.3f} ms; the hand-off and back costs {statistics.median(extra):.3f} ms "
                f"(blocks: {min(extra):.3f} to {max(extra):.3f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gaps", type=float, nargs="+", default=[8.0, 2.5], help="pauses before each round, ms")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.gaps, args.rounds, args.repeats))


if __name__ == "__main__":
    main()
