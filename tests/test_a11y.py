"""Every page in both languages, in Chromium: no English heading left in zh-TW, no serious or critical
accessibility violation found by axe-core (npm's axe-core, installed by scripts/test.sh), and the main page
usable on a phone: the text box and every model's top guesses on one 390 x 844 screen."""

import re

import pytest

from bench.common import ROOT
from tests.helpers import ARTIFACTS, wait_idle

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ["/", "/Memory_lab", "/Guess?seed=5"]
READY = {"/": ".live .bar-row", "/Memory_lab": "[data-testid=stVegaLiteChart] svg", "/Guess?seed=5": ".game table"}
CJK = re.compile(r"[\u4e00-\u9fff]")
HEADINGS = """() => {
  const found = [];
  const walk = (root) => {
    // headings, and the page names in the sidebar (their icons are ligature names such as "keyboard")
    root.querySelectorAll('h1, h2, h3, h4, h5, h6, [data-testid=stSidebarNavLink] span[label]')
      .forEach((h) => found.push(h.textContent.trim()));
    root.querySelectorAll('*').forEach((e) => e.shadowRoot && walk(e.shadowRoot));
  };
  walk(document);
  return found.filter((t) => t);
}"""


def open_page(browser, url: str, path: str, lang: str = "en", **context):  # noqa: F811
    page = browser.new_context(**(context or {"viewport": {"width": 1400, "height": 1600}})).new_page()
    page.goto(url + path + ("&" if "?" in path else "?") + f"lang={lang}")
    page.wait_for_selector(READY[path], timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(500)
    return page


@pytest.mark.parametrize("path", PAGES)
def test_no_english_heading_is_left_in_zh_tw(server, browser, path):  # noqa: F811
    page = open_page(browser, server, path, "zh-TW")
    headings = page.evaluate(HEADINGS)
    assert len(headings) >= 4
    english = [h for h in headings if not CJK.search(h)]
    assert not english, f"English headings left on {path}: {english}"
    assert page.evaluate("document.documentElement.lang") == "zh-TW"
    page.close()


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_or_critical_violation(server, browser, path, lang):  # noqa: F811
    assert AXE.exists(), "npm install (scripts/test.sh) brings axe-core"
    page = open_page(browser, server, path, lang)
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.length, where: v.nodes[0].target.join(' ')}))"
    )
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious
    page.close()


def test_on_a_phone_the_box_and_every_model_s_guesses_share_one_screen(server, browser):  # noqa: F811
    page = open_page(
        browser,
        server,
        "/",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    box = page.get_by_label("Type here: every model guesses the next character")
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)

    def on_screen() -> list[tuple[float, float]]:
        rects = [box.bounding_box()] + [page.locator(".live .bars").nth(i).bounding_box() for i in range(3)]
        return [(r["y"], r["y"] + r["height"]) for r in rects]

    assert all(0 <= top and bottom <= 844 for top, bottom in on_screen()), on_screen()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "phone.png")
    # scrolled down to the unrolled networks, the box and the guesses are still on screen
    page.locator(".live .unrolled").evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    assert all(0 <= top and bottom <= 844 for top, bottom in on_screen()), on_screen()
    page.close()
