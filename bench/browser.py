"""The app as a browser sees it: time to the first prediction on screen, and server memory per session.

    python -m bench.browser [--sessions 10]

Starts `streamlit run app.py` itself, drives Debian's chromium with Playwright, and reads the server's
resident memory from /proc. Start-up is split into the server becoming healthy and the first page load
showing every model's chart; the total is what a teacher waits for after starting the app.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

from bench.common import FLAGS, IDLE, ROOT, free_port, rss_mb, wait_healthy

READY = ".models .bar-row"  # every model's top guesses drawn by the live component
WORDS = [
    "neuron",
    "To be, or not",
    "ROMEO.\nBut soft",
    "the king",
    "Now is the winter",
    "Friends, Romans",
    "O brave new world",
    "All the world's a stage",
    "Double, double",
    "If music be the food",
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        began = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(url, 120, server)
            healthy = time.perf_counter() - began
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(READY, timeout=120_000)
            first = time.perf_counter() - began
            idle_one = rss_mb(server.pid)
            pages = [page]
            for word in WORDS[: args.sessions - 1]:
                page = browser.new_context().new_page()
                page.goto(url + "/?text=" + urllib.request.quote(word))
                pages.append(page)
            for page in pages:
                page.wait_for_selector(READY, timeout=120_000)
                page.wait_for_selector(IDLE, timeout=120_000)
            for page in pages:
                box = page.get_by_label("Type here: every model guesses the next character")
                box.press_sequentially(" and more", delay=30)
                page.wait_for_timeout(400)
                page.wait_for_selector(IDLE, timeout=120_000)
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
        browser.close()
    print(f"server healthy after start:            {healthy:6.2f} s")
    print(f"first predictions on screen after start: {first:6.2f} s (every model's chart drawn)")
    print(f"server memory with 1 session:          {idle_one:6.0f} MB")
    per_session = (after - idle_one) / max(1, len(pages) - 1)
    print(f"server memory after {len(pages)} sessions typing: {after:6.0f} MB ({per_session:.1f} MB per extra session)")


if __name__ == "__main__":
    main()
