"""The live page in Chromium on the fast path (ui/fast.py), and its fallback to script reruns when the route
cannot be reached: refused (a proxy that forwards only Streamlit's own paths), blocked (the page cannot make
the socket), or a socket that opens and never answers. In every case the page keeps typing."""

from __future__ import annotations

import json

import pytest

from bench.common import LABEL, streamlit_server
from tests.helpers import bar_texts, shown_text, wait_idle

pytestmark = pytest.mark.browser


def transport(page) -> str | None:
    return page.locator(".live").get_attribute("data-transport")


def type_and_settle(page, text: str) -> None:
    box = page.get_by_label(LABEL)
    box.press("End")
    box.press_sequentially(text, delay=40)
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
        " e.shadowRoot.querySelector('.live') && e.shadowRoot.querySelector('.live').dataset.shown === t)",
        arg="neuron" + text,
        timeout=20_000,
    )


def test_typing_goes_over_the_fast_path_and_every_reply_answers_its_request(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    sent, replies = {}, []

    def watch(ws):
        if "/api/live" not in ws.url:
            return
        ws.on("framesent", lambda payload: sent.__setitem__(json.loads(payload)["seq"], json.loads(payload)["text"]))
        ws.on("framereceived", lambda payload: replies.append(json.loads(payload)))

    page.on("websocket", watch)
    page.goto(server)
    page.wait_for_selector(".live .bar-row", timeout=60_000)
    wait_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
        " e.shadowRoot.querySelector('.live[data-transport=fast]'))",
        timeout=10_000,
    )
    before = bar_texts(page)
    type_and_settle(page, " and the king")
    assert transport(page) == "fast" and bar_texts(page) != before
    assert replies and all(r["type"] == "reply" for r in replies)
    assert all(r["text"] == sent[r["seq"]] for r in replies)  # each reply answers the text it was asked
    assert replies[-1]["text"] == "neuron and the king"
    # the URL follows the box once typing pauses (the writer's run syncs it)
    page.wait_for_function("() => location.search.includes('king')", timeout=10_000)
    page.close()


BLOCK_SOCKET = """
(() => {
  const Native = window.WebSocket;
  function Guarded(url, protocols) {
    if (String(url).includes("/api/live")) throw new DOMException("blocked by policy", "SecurityError");
    return protocols === undefined ? new Native(url) : new Native(url, protocols);
  }
  Guarded.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Guarded[k] = Native[k];
  window.WebSocket = Guarded;
})();
"""


def refuse(route):
    route.close(code=1008, reason="refused")


def never_answer(route):
    pass  # accepted, never connected to the server: the page's socket opens and then hears nothing


@pytest.mark.parametrize("case", ["refused", "blocked", "silent"])
def test_the_page_falls_back_to_reruns_and_keeps_typing(server, browser, case):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    if case == "refused":
        page.route_web_socket("**/api/live**", refuse)
    elif case == "blocked":
        page.add_init_script(BLOCK_SOCKET)
    else:
        page.route_web_socket("**/api/live**", never_answer)
    page.goto(server)
    page.wait_for_selector(".live .bar-row", timeout=60_000)
    wait_idle(page)
    before = bar_texts(page)
    page.wait_for_timeout(3500)  # longer than the page waits for a silent socket's first answer
    assert transport(page) == "rerun"
    type_and_settle(page, " and the king")
    assert bar_texts(page) != before and shown_text(page) == "neuron and the king"
    page.wait_for_function("() => location.search.includes('king')", timeout=10_000)
    assert page.locator("text=Traceback").count() == 0
    page.close()


def test_the_fast_path_works_under_a_base_url_path(browser):
    with streamlit_server(base="class") as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(url + "/")
        page.wait_for_selector(".live .bar-row", timeout=60_000)
        wait_idle(page)
        type_and_settle(page, " and the king")
        assert transport(page) == "fast"
        page.close()
