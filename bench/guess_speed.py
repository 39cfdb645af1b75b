"""The guessing game as a player feels it: from a key in "Your guess" to the last change on screen.

    python -m bench.guess_speed [--guesses 30] [--root DIR]

Starts `streamlit run app.py`, opens the game on a fixed passage in Debian's chromium, and presses keys one
at a time (a wrong guess, then the right character, in turn), waiting after each until nothing has changed
for 1.5 s (the MutationObserver of bench/live.py). Server CPU per guess is from /proc over the run. --root serves
another checkout (the commit before a change), for a baseline measured in the same hour.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.common import CHROMIUM, FLAGS, ROOT, cpu_seconds, streamlit_server, summary
from bench.live import OBSERVER, wait_settled
from core.guess import load_passages
from core.models import models_dir

SEED = 5


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guesses", type=int, default=30)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    text = load_passages(models_dir()).texts[SEED]
    keys = []
    for ch in text:
        keys += ["q" if ch != "q" else "z", ch]
    with streamlit_server(args.root) as (url, server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        page.add_init_script(OBSERVER)
        page.goto(f"{url}/Guess?seed={SEED}")
        page.wait_for_selector(".game .passage", timeout=60_000)
        wait_settled(page)
        page.get_by_label("Your guess").focus()
        times, began = [], cpu_seconds(server.pid)
        for key in keys[: args.guesses]:
            page.evaluate("window.__bench.keys = []")
            page.keyboard.press({"\n": "Enter", " ": "Space"}.get(key, key))
            # the page is idle and quiet until the guess's run begins: wait for its first change, then the last
            page.wait_for_function(
                "() => window.__bench.keys.length && window.__bench.last > window.__bench.keys[0]", polling=10
            )
            last = wait_settled(page)
            times.append(last - page.evaluate("window.__bench.keys[0]"))
        cpu = (cpu_seconds(server.pid) - began) / len(times) * 1000
        browser.close()
    print(f"guess to the last change on screen: {summary(times)}")
    print(f"server CPU per guess: {cpu:.1f} ms")


if __name__ == "__main__":
    main()
