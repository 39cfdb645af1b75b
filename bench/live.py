"""Keystroke to screen in Chromium, and server CPU per keystroke, on the main page as a person types.

    python -m bench.live [--root DIR] [--keys 30] [--baseline-root DIR]

Starts `streamlit run app.py` in --root (default: this checkout), drives Debian's chromium with Playwright,
and measures with a MutationObserver installed before the page loads (it also watches the components'
shadow roots). "A change on screen" is any DOM change inside the app's main area other than the text box
itself and the generation section, whose continuations wait for typing to pause by design (timed on their
own: keystroke to the continuation of the new text); the header's running indicator is not counted. Runs:
- first settled screen: from navigation start to the last change, on a warm server (a page was opened first);
- spaced keystrokes: one key, then wait until nothing has changed for 1.5 s; latency = keydown to last change;
- steady typing at 5 characters a second, with a typo and a backspace every 12: after how many keystrokes the
  predictions changed before the next key landed, and the longest run of keystrokes without a change.
Server CPU per keystroke is the server process's user + system time (/proc) over a run, divided by its keys.
With --baseline-root (for example a `git worktree` of an older commit) the same runs are made on that
checkout in the same invocation, and ratios printed.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.common import CHROMIUM, FLAGS, IDLE, LABEL, ROOT, SHADOW_HELPERS, cpu_seconds, streamlit_server, summary

OBSERVER = (
    SHADOW_HELPERS
    + """
(() => {
  const PREDICTIONS = '.models, [data-testid=stVegaLiteChart]';
  const state = (window.__bench = { last: 0, predictions: [], keys: [], written: 0 });
  const observer = new MutationObserver((records) => {
    const now = performance.now();
    for (const r of records) {
      if (!within(r.target, '[data-testid=stMain]') || within(r.target, 'input, textarea')) continue;
      if (within(r.target, '.st-key-generation')) {
        state.written = now;
        continue;
      }
      state.last = now;
      if (within(r.target, PREDICTIONS)) state.predictions.push(now);
    }
  });
  observeEverywhere(observer);
  window.addEventListener('keydown', () => state.keys.push(performance.now()), true);
  window.addEventListener('pointerdown', () => state.keys.push(performance.now()), true);
})();
"""
)
SPACED = " and the king of Denmark is dead"
STEADY = "To be, or not to be, that is the question: whether 'tis nobler in the mind"
QUIET_MS = 1500


def wait_settled(page, quiet_ms: int = QUIET_MS, timeout_ms: int = 60_000) -> float:
    """Wait until the script is idle and nothing changed for quiet_ms; the last change, in page time."""
    page.wait_for_function(
        f"() => document.querySelector('{IDLE}') && performance.now() - window.__bench.last > {quiet_ms}",
        timeout=timeout_ms,
        polling=50,
    )
    return page.evaluate("window.__bench.last")


def open_page(browser, url: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.add_init_script(OBSERVER)
    page.goto(url)
    page.wait_for_selector(".models .bar-row, [data-testid=stVegaLiteChart] svg", timeout=60_000)
    return page


def measure(root: Path, keys: int) -> dict:
    with streamlit_server(root) as (url, server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        warm = open_page(browser, url)  # a warm server: models loaded, caches filled
        wait_settled(warm)
        warm.close()
        first = []
        for _ in range(3):
            page = open_page(browser, url)
            first.append(wait_settled(page))
            page.close()
        page = open_page(browser, url)
        wait_settled(page)
        box = page.get_by_label(LABEL)
        box.click()
        box.press("End")
        wait_settled(page)
        spaced, written, began = [], [], cpu_seconds(server.pid)
        for ch in (SPACED * 4)[:keys]:
            page.evaluate("window.__bench.keys = []")
            box.press(ch if ch != " " else "Space")
            last = wait_settled(page)
            pressed = page.evaluate("window.__bench.keys[0]")
            spaced.append(last - pressed)
            written.append(page.evaluate("window.__bench.written") - pressed)
        spaced_cpu = (cpu_seconds(server.pid) - began) / keys * 1000
        page.evaluate("window.__bench.keys = []; window.__bench.predictions = []")
        typed, began = 0, cpu_seconds(server.pid)
        for i, ch in enumerate(STEADY):
            keys_now = [ch, "x", "Backspace"] if i % 12 == 11 else [ch]
            for key in keys_now:
                box.press(key if key != " " else "Space")
                typed += 1
                page.wait_for_timeout(200)
        wait_settled(page)
        steady_cpu = (cpu_seconds(server.pid) - began) / typed * 1000
        times = page.evaluate("window.__bench.keys")
        changes = page.evaluate("window.__bench.predictions")
        browser.close()
    ends = times[1:] + [times[-1] + 200]
    updated = [any(a <= c < b for c in changes) for a, b in zip(times, ends, strict=True)]
    longest = run = 0
    for u in updated:
        run = 0 if u else run + 1
        longest = max(longest, run)
    return {
        "first": first,
        "spaced": spaced,
        "spaced_cpu": spaced_cpu,
        "written": written,
        "steady_updated": sum(updated) / len(updated),
        "steady_longest_gap": longest,
        "steady_cpu": steady_cpu,
        "steady_keys": len(times),
    }


def report(name: str, r: dict) -> None:
    print(f"== {name}")
    print(f"first settled screen, warm server:      {summary([t / 1000 for t in r['first']], 's')}")
    print(f"keystroke to last change (spaced keys): {summary(r['spaced'])}")
    if min(r["written"]) > 0:
        print(f"keystroke to the continuation of the new text (spaced keys): {summary(r['written'])}")
    else:
        print("keystroke to the continuation of the new text: not measured (no generation section marked)")
    print(f"server CPU per spaced keystroke, with its continuation: {r['spaced_cpu']:7.1f} ms")
    print(
        f"steady typing at 5 chars/s ({r['steady_keys']} keys): predictions changed before the next key after "
        f"{r['steady_updated']:.0%} of keystrokes; longest run without a change: {r['steady_longest_gap']} keys"
    )
    print(f"server CPU per keystroke (steady typing): {r['steady_cpu']:5.1f} ms")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py is measured")
    parser.add_argument("--baseline-root", type=Path, help="an older checkout, measured in the same run")
    parser.add_argument("--keys", type=int, default=30, help="spaced keystrokes to time")
    args = parser.parse_args(argv)
    results = {"this checkout": measure(args.root, args.keys)}
    report("this checkout", results["this checkout"])
    if args.baseline_root:
        base = measure(args.baseline_root, args.keys)
        report(f"baseline ({args.baseline_root})", base)
        now = results["this checkout"]
        ratio = statistics.median(base["spaced"]) / statistics.median(now["spaced"])
        print(f"ratio keystroke to screen, median: {ratio:.1f}x faster")
        # Per update of the predictions: spaced keys each rerun the older page (at 5 keys a second it waited for
        # a pause and reran once); every key reruns this one while typing (its spaced keys also write).
        print(
            f"ratio server CPU per update of the predictions (baseline spaced / this steady): "
            f"{base['spaced_cpu'] / now['steady_cpu']:.1f}x less"
        )


if __name__ == "__main__":
    main()
