"""One person typing in Chromium: how soon each key's predictions are drawn, and how soon the server confirms.

    python -m bench.typing [--root DIR | --url URL] [--rate 5]

Starts `streamlit run app.py` in --root (or uses the server at --url), opens the main page in Debian's chromium
and types ordinary English (a paragraph of modern prose, then a line of Shakespeare) at --rate keys a second, a
typo and a backspace every 12 characters. A MutationObserver installed before the page loads (it also watches the
components' shadow roots) and a wrapper around the page's fast-path WebSocket record, in page time:
- key to predictions drawn: from keydown to the first change of the model columns (`.models`), before the next
  key. A key is "drawn from the page" when that change came before any reply to a request sent after the key:
  from the lookahead (the likeliest next characters) or the page's cache; otherwise it waited for the server.
- key to the server's reply: from keydown to the first reply whose text is the box's text after that key or
  extends it (keys typed while a request is out travel together), on the fast path.
A DOM change is not yet a painted frame: the browser paints at its next frame (16.7 ms at 60 Hz).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.common import CHROMIUM, FLAGS, IDLE, LABEL, ROOT, SHADOW_HELPERS, percentile, streamlit_server, summary

PROSE = (
    " and then we walked down to the station, where the last train had already left, so we sat on the bench"
    " and talked about the weather, the news and what we would do tomorrow if the rain stopped."
)
VERSE = " To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer"
RECORDER = (
    SHADOW_HELPERS
    + """
(() => {
  const state = (window.__typing = { keys: [], texts: [], drawn: [], replies: [] });
  const observer = new MutationObserver((records) => {
    if (records.some((r) => within(r.target, '.models'))) state.drawn.push(performance.now());
  });
  observeEverywhere(observer);
  window.addEventListener('keydown', () => state.keys.push(performance.now()), true);
  const Native = window.WebSocket;
  function Recorded(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    if (String(url).includes('/api/live')) {
      const send = ws.send.bind(ws);
      ws.send = (data) => {
        state.replies.push({ sent: performance.now() });
        send(data);
      };
      ws.addEventListener('message', (e) => {
        const frame = JSON.parse(e.data);
        if (frame.type === 'reply') state.replies.push({ at: performance.now(), text: frame.text });
      });
    }
    return ws;
  }
  Recorded.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Recorded[k] = Native[k];
  window.WebSocket = Recorded;
})();
"""
)
BOX_TEXT = (
    "() => { for (const e of document.querySelectorAll('*')) { const b = e.shadowRoot &&"
    " e.shadowRoot.querySelector('input.box'); if (b) return b.value; } return null; }"
)
TRANSPORT = (
    "() => { for (const e of document.querySelectorAll('*')) { const l = e.shadowRoot &&"
    " e.shadowRoot.querySelector('.live'); if (l) return l.dataset.transport; } return null; }"
)


def measure(root: Path, rate: float, url: str | None = None) -> dict:
    gap_ms = 1000 / rate
    server = contextlib.nullcontext((url, None)) if url else streamlit_server(root)
    with server as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        page.add_init_script(RECORDER)
        page.goto(url)
        page.wait_for_selector(".models .bar-row", timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_function(f"() => ({TRANSPORT})() === 'fast'", timeout=10_000)
        box = page.get_by_label(LABEL)
        box.click()
        box.press("End")
        page.wait_for_timeout(1000)
        page.evaluate("window.__typing.keys = []; window.__typing.drawn = []; window.__typing.replies = []")
        texts = []
        for i, ch in enumerate(PROSE + VERSE):
            for key in [ch, "x", "Backspace"] if i % 12 == 11 else [ch]:
                box.press(key if key != " " else "Space")
                texts.append(page.evaluate(BOX_TEXT))
                page.wait_for_timeout(gap_ms)
        page.wait_for_timeout(1500)
        record = page.evaluate("window.__typing")
        transport = page.evaluate(TRANSPORT)
        browser.close()
    keys, drawn = record["keys"], record["drawn"]
    sends = [r["sent"] for r in record["replies"] if "sent" in r]
    replies = [r for r in record["replies"] if "at" in r]
    ends = keys[1:] + [keys[-1] + gap_ms]
    from_page, waited, confirmed = [], [], []
    for key, end, text in zip(keys, ends, texts, strict=True):
        first = next((d for d in drawn if key <= d < end), None)
        reply = next((r["at"] for r in replies if r["at"] >= key and r["text"].startswith(text)), None)
        if reply is not None:
            confirmed.append(reply - key)
        if first is None:
            continue
        sent_after = [s for s in sends if s >= key]
        answered = next((r["at"] for r in replies if sent_after and r["at"] >= sent_after[0]), None)
        (from_page if answered is None or first < answered else waited).append(first - key)
    return {
        "keys": len(keys),
        "from_page": from_page,
        "waited": waited,
        "undrawn": len(keys) - len(from_page) - len(waited),
        "confirmed": confirmed,
        "transport": transport,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--rate", type=float, default=5.0, help="keys a second")
    parser.add_argument("--url", help="a running server, for example scripts/serve.sh's nginx (default: start one)")
    args = parser.parse_args(argv)
    r = measure(args.root, args.rate, args.url)
    drawn = r["from_page"] + r["waited"]
    print(f"== one person typing {r['keys']} keys at {args.rate:g} keys/s, transport at the end: {r['transport']}")
    share = len(r["from_page"]) / r["keys"]
    print(f"keys drawn from the page (lookahead or cache), before the server answered: {share:.0%}")
    print(f"  key to predictions drawn, those keys:   {summary(r['from_page'])}")
    if r["waited"]:
        print(f"  key to predictions drawn, keys that waited for the server: {summary(r['waited'])}")
    print(f"  key to predictions drawn, all keys:     {summary(drawn)}")
    print(f"  keys whose predictions did not change before the next key: {r['undrawn']}")
    print(f"key to the server's reply carrying it:    {summary(r['confirmed'])}")
    print(f"p95 at most 16 ms for keys from the page: {percentile(r['from_page'], 95) <= 16}")


if __name__ == "__main__":
    main()
