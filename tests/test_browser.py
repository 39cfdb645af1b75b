"""The real thing: `streamlit run app.py` driven by Debian's chromium through Playwright.

Chromium comes from `apt-get install chromium` (scripts/test.sh does it); Playwright cannot download
its own browser here. These tests fail rather than skip when chromium is missing.
"""

import pytest

from bench.common import LABEL
from tests.helpers import ARTIFACTS, bar_texts, open_page, shown_text, wait_idle

pytestmark = pytest.mark.browser


def test_typing_updates_every_model_s_predictions(server, browser):
    page = open_page(browser, server)
    box = page.get_by_label(LABEL)
    assert box.input_value() == "neuron" and shown_text(page) == "neuron"
    before = bar_texts(page)
    assert len(before) == 3
    box.fill("")
    box.press_sequentially("To be, or not to b", delay=40)
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('text=To')", timeout=10_000)
    assert shown_text(page) == "To be, or not to b"
    after = bar_texts(page)
    assert len(after) == 3 and all(a != b for a, b in zip(after, before, strict=True))
    assert after[2].splitlines()[0].strip() == "e"  # the LSTM finishes Hamlet's line
    nets = page.locator(".live .net-svg svg")
    arrows = [nets.nth(i).locator("line.recurrent").count() for i in range(3)]
    assert arrows == [0, 7, 7]  # no step-to-step arrows for the feed-forward net; 7 between 8 steps otherwise
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "typing.png", full_page=True)
    assert page.locator("text=Traceback").count() == 0
    page.close()


def test_a_backspace_shows_the_earlier_predictions_again(server, browser):
    page = open_page(browser, server)
    box = page.get_by_label(LABEL)
    box.press("End")
    at_neuron = bar_texts(page)
    box.press("s")
    wait_idle(page)
    assert shown_text(page) == "neurons" and bar_texts(page) != at_neuron
    box.press("Backspace")
    assert shown_text(page) == "neuron" and bar_texts(page) == at_neuron  # from the page's own cache, at once
    page.close()


def test_the_continuation_follows_newly_typed_text(server, browser):
    page = open_page(browser, server)
    writer = page.locator(".writer")
    assert writer.get_attribute("data-shown-for") == "neuron"
    assert all(t.startswith("neuron") for t in page.locator(".writer pre").all_inner_texts())
    box = page.get_by_label(LABEL)
    box.press("End")
    box.press_sequentially(" and the king", delay=30)
    # at once, the old continuation is no longer shown as current
    assert writer.get_attribute("data-shown-for") == ""
    assert page.locator(".writer .list").is_hidden() and page.locator(".writer .waiting").is_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
        " e.shadowRoot.querySelector('.writer[data-shown-for=\"neuron and the king\"]'))",
        timeout=20_000,
    )
    continuations = page.locator(".writer pre").all_inner_texts()
    assert len(continuations) == 3 and all(t.startswith("neuron and the king") for t in continuations)
    assert all(len(t) > len("neuron and the king") + 100 for t in continuations)
    page.close()


def test_markup_typed_in_the_box_stays_text(server, browser):
    markup = "<img src=x onerror=alert(1)>"
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: dialogs.append(d))  # attached before the page loads, so nothing can slip by
    page.goto(server + "/?text=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.wait_for_selector(".live .bar-row", timeout=60_000)
    wait_idle(page)
    assert shown_text(page) == markup
    box = page.get_by_label(LABEL)
    box.press("End")
    box.press_sequentially("<b>x</b><script>alert(2)</script>", delay=20)
    wait_idle(page)
    page.wait_for_timeout(1500)  # the continuations of the markup too
    assert page.locator("img[src=x]").count() == 0 and page.locator("b").count() == 0 and not dialogs
    assert "<script>" in page.locator(".writer pre").first.inner_text()
    assert page.locator("text=Traceback").count() == 0
    page.close()


def test_the_guessing_game_plays_with_the_keyboard_alone(server, browser):
    from core.guess import GAVE_UP, load_passages
    from core.models import SHIPPED_DIR

    text = load_passages(SHIPPED_DIR).texts[5]
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server + "/Guess?seed=5")
    page.wait_for_selector(".game .passage", timeout=60_000)
    wait_idle(page)
    game = page.locator(".game")
    page.get_by_label("Your guess").focus()
    wrong = next(c for c in "zqxj" if c != text[0])
    for ch in wrong + text[:4]:  # a wrong guess, then four right ones, typed without waiting
        page.keyboard.press("Enter" if ch == "\n" else ch if ch != " " else "Space")
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
        " e.shadowRoot.querySelector('.game') && e.shadowRoot.querySelector('.game').dataset.shown === t)",
        arg=text[:4],
        timeout=20_000,
    )
    you = page.locator(".game table.ranks tr").nth(1).locator("td").all_inner_texts()
    assert you == ["2", "1", "1", "1"]
    assert page.locator(".game table.ranks tr").count() == 5  # characters, you and three models
    page.keyboard.press("Tab")  # to "Show me", then press it from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
        " e.shadowRoot.querySelector('.game') && e.shadowRoot.querySelector('.game').dataset.shown.length === 5)",
        timeout=20_000,
    )
    assert game.get_attribute("data-shown") == text[:5]
    assert page.locator(".game table.ranks tr").nth(1).locator("td").last.inner_text() == str(GAVE_UP)
    assert "seed=5" in page.url and page.locator("text=Traceback").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "guess.png", full_page=True)
    page.close()


def test_the_memory_lab_draws_its_charts(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(server + "/Memory_lab")
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=stVegaLiteChart] svg').length >= 8", timeout=120_000
    )
    wait_idle(page)
    assert page.get_by_text("Memory lab").first.is_visible()
    assert page.locator("text=Traceback").count() == 0
    k = page.get_by_label("k (distractors)")
    k.fill("3")
    k.press("Enter")
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('recall_k=3')", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "memory_lab.png", full_page=True)
    page.close()
