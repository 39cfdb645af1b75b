"""What tests share beyond their fixtures (tests/conftest.py): the data a page's component was mounted with
(AppTest), and reading the live page in Chromium. Servers and Chromium's flags come from bench/common.py,
which benchmarks use too; bench never imports from tests."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from bench.common import IDLE, ROOT

ARTIFACTS = ROOT / "test-artifacts"  # screenshots a failing or curious run leaves behind
SERVERS: dict[str, int] = {}  # url -> pid of each server the `server` fixture runs (tests/conftest.py)


def component(at: AppTest, suffix: str) -> dict:
    """The JSON a components-v2 component (its key ends in `suffix`, e.g. "-live") was mounted with."""
    (found,) = [c for c in at.get("bidi_component") if c.proto.id.endswith(suffix)]
    return json.loads(found.proto.json)


def bar_texts(page) -> list[str]:
    """What each model's top-k bars say (characters and percentages), as drawn in the live component."""
    return page.locator(".live .bars").all_inner_texts()


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=30_000)


# An expander whose opening has ended. While Streamlit's expander opens (about 0.6 s) its <details> carries an
# inline height and clips its content, and the elements below it slide down over that content: a click on a
# button inside it then lands on the element below (seen with the board over the room's Join button, under load).
OPENED = """(title) => [...document.querySelectorAll('[data-testid=stExpander] details')].some((d) =>
  d.open && !d.style.height && d.querySelector('summary').innerText.includes(title))"""


def open_expander(page, title: str) -> None:
    """Open the expander called `title` and wait until it has finished opening."""
    page.get_by_text(title, exact=True).click()
    page.wait_for_function(OPENED, arg=title, timeout=10_000)


def shown_text(page) -> str:
    return page.locator(".live").get_attribute("data-shown")


def open_page(browser, url: str, **viewport):
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1800})
    page.goto(url)
    page.wait_for_selector(".live .bar-row", timeout=60_000)
    wait_idle(page)
    return page
