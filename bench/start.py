"""The README's start command, timed as a person waits for it: from `bash scripts/start.sh` to the first
settled screen in Chromium.

    python -m bench.start [--runs 3]

Run it where scripts/start.sh has run once before (the first run makes .venv/ and installs requirements.txt,
which takes minutes and is not what this measures). Settled: the script is idle and nothing on the page has
changed for 1.5 s (the MutationObserver of bench/live.py); the figure is the time of the last change.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from playwright.sync_api import sync_playwright

from bench.common import CHROMIUM, FLAGS, ROOT, free_port, summary, wait_healthy
from bench.live import OBSERVER, wait_settled


def once(browser) -> tuple[float, float]:
    port = free_port()
    began = time.time()
    server = subprocess.Popen(
        ["bash", "scripts/start.sh", "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        healthy = time.time() - began
        page = browser.new_context().new_page()
        page.add_init_script(OBSERVER)
        page.goto(url)
        page.wait_for_selector(".models .bar-row", timeout=60_000)
        last = wait_settled(page)
        settled = page.evaluate("performance.timeOrigin") / 1000 + last / 1000 - began
        page.close()
        return healthy, settled
    finally:
        server.terminate()
        server.wait(timeout=20)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        results = [once(browser) for _ in range(args.runs)]
        browser.close()
    print(f"start.sh to healthy server:       {summary([h for h, _ in results], 's')}")
    print(f"start.sh to first settled screen: {summary([s for _, s in results], 's')}")


if __name__ == "__main__":
    main()
