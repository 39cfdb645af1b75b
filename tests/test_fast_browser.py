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


# ---- the guessing game's socket (ui/guess_path.py)

GAME_SHOWN = (
    "(t) => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
    " e.shadowRoot.querySelector('.game') && e.shadowRoot.querySelector('.game').dataset.shown === t)"
)


def guess_page(browser, server: str, setup=None):
    """The Guess page on passage 5, and a count of the messages it sent Streamlit (each asks for a script run)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    runs = [0]
    page.on(
        "websocket",
        lambda ws: ws.on("framesent", lambda _: runs.__setitem__(0, runs[0] + 1)) if "_stcore" in ws.url else None,
    )
    if setup:
        setup(page)
    page.goto(server + "/Guess?seed=5")
    page.wait_for_selector(".game .passage", timeout=60_000)
    wait_idle(page)
    return page, runs


def press(page, chars: str) -> None:
    page.get_by_label("Your guess").focus()
    for ch in chars:
        page.keyboard.press("Enter" if ch == "\n" else "Space" if ch == " " else ch)


def game_transport(page) -> str | None:
    return page.locator(".game").get_attribute("data-transport")


def passage() -> str:
    from core.guess import load_passages
    from core.models import SHIPPED_DIR

    return load_passages(SHIPPED_DIR).texts[5]


def test_guesses_go_over_the_game_s_socket_without_a_script_run(server, browser):
    text = passage()
    page, runs = guess_page(browser, server)
    page.wait_for_selector(".game[data-transport=socket]", timeout=10_000)
    before = runs[0]
    wrong = next(c for c in "zqxj" if c != text[0])
    press(page, wrong + text[:6])
    page.wait_for_function(GAME_SHOWN, arg=text[:6], timeout=20_000)
    assert runs[0] == before  # seven guesses judged, not one rerun asked for
    you = page.locator(".game table.ranks tr").nth(1).locator("td").all_inner_texts()
    assert you == ["2", "1", "1", "1", "1", "1"]
    page.close()


def swallow_answers_after(n: int):
    """The route to the game's socket passes the first n answers and loses the rest: the page's guess reaches the
    server and is judged, but the page never hears so."""

    def handler(ws):
        server = ws.connect_to_server()
        answered = [0]

        def to_page(message):
            answered[0] += 1
            if answered[0] <= n:
                ws.send(message)

        server.on_message(to_page)

    return handler


@pytest.mark.parametrize("case", ["refused", "silent", "answers lost"])
def test_the_game_falls_back_to_reruns_and_counts_each_guess_once(server, browser, case):
    text = passage()
    handler = {"refused": refuse, "silent": never_answer, "answers lost": swallow_answers_after(4)}[case]
    page, _ = guess_page(browser, server, lambda p: p.route_web_socket("**/api/guess**", handler))
    if case == "answers lost":  # the opening board and three guesses come back; the next guess's answer is lost
        page.wait_for_selector(".game[data-transport=socket]", timeout=10_000)
        press(page, text[:3])
        page.wait_for_function(GAME_SHOWN, arg=text[:3], timeout=20_000)
        assert text[3] != text[4]  # applied twice, the fourth guess would count as a wrong one at the fifth
        press(page, text[3:6])
        page.wait_for_function(GAME_SHOWN, arg=text[:6], timeout=30_000)
        # each guess judged once, though one was sent twice (the socket, then a rerun; then the page opens a new
        # socket)
        counts = ["1"] * 6
    else:
        page.wait_for_timeout(4500)  # longer than the page waits for a silent socket's first answer
        assert game_transport(page) == "rerun"
        wrong = next(c for c in "zqxj" if c != text[0])
        press(page, wrong + text[:3])
        page.wait_for_function(GAME_SHOWN, arg=text[:3], timeout=30_000)
        counts = ["2", "1", "1"]
        assert game_transport(page) == "rerun"
    assert page.locator(".game table.ranks tr").nth(1).locator("td").all_inner_texts() == counts
    assert page.locator("text=Traceback").count() == 0
    page.close()
