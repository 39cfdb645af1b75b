"""The memory lab as a person uses it: from clicking out of its text box to the screen settling.

    python -m bench.lab [--runs 5]

Starts `streamlit run app.py`, opens the lab in Debian's chromium, and for each run types a different text
(about 100 characters) into the lab's box, then clicks outside it, which commits the text and reruns the
page: every model's forward trace and backward pass through time, and the lab's charts. The figure is from
the click to the last change on the page (the MutationObserver of bench/live.py), after 1.5 s of quiet.
Server CPU per analysis is the server's user + system time over the runs, divided by the runs.
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright

from bench.common import CHROMIUM, FLAGS, cpu_seconds, streamlit_server, summary
from bench.live import OBSERVER, wait_settled

TEXTS = [
    "HAMLET.\nTo be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer",
    "MACBETH.\n[Aside.] Two truths are told,\nAs happy prologues to the swelling act\nOf the imperial theme.",
    "PROSPERO.\nWe are such stuff\nAs dreams are made on; and our little life\nIs rounded with a sleep.",
    "KING.\nNow is the winter of our discontent\nMade glorious summer by this sun of York;",
    "JULIET.\nWhat's in a name? That which we call a rose\nBy any other word would smell as sweet;",
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with streamlit_server() as (url, server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        page.add_init_script(OBSERVER)
        page.goto(url + "/Memory_lab")
        page.wait_for_function(
            "document.querySelectorAll('[data-testid=stVegaLiteChart] svg').length >= 8", timeout=120_000
        )
        first = wait_settled(page)
        box = page.get_by_label("Your text", exact=True)
        times, began = [], cpu_seconds(server.pid)
        for i in range(args.runs):
            box.fill(TEXTS[i % len(TEXTS)] + f" ({i})")
            page.evaluate("window.__bench.keys = []")
            page.get_by_role("heading", name="Memory lab").click()  # out of the box: the text is committed
            last = wait_settled(page)
            times.append(last - page.evaluate("window.__bench.keys[0]"))
        cpu = (cpu_seconds(server.pid) - began) / args.runs * 1000
        browser.close()
    print(f"memory lab, first settled screen after opening it: {first / 1000:.1f} s")
    print(f"memory lab, clicking out of its text box to the screen settling: {summary(times)}")
    print(f"server CPU per analysis (all models, with the page's charts): {cpu:.0f} ms")


if __name__ == "__main__":
    main()
