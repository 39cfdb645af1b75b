"""The real thing: `streamlit run app.py` driven by Debian's chromium through Playwright.

Chromium comes from `apt-get install chromium` (scripts/test.sh does it); Playwright cannot download
its own browser here. These tests fail rather than skip when chromium is missing.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {proc.stderr.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def chart_texts(page) -> list[str]:
    """What each top-k bar chart says (axis labels and percentages), read from the rendered SVG."""
    charts = page.locator("[data-testid=stVegaLiteChart]")
    return [charts.nth(i).inner_text() for i in range(min(3, charts.count()))]


def wait_idle(page) -> None:
    page.wait_for_timeout(400)  # the live input commits after a 250 ms pause
    page.wait_for_selector(IDLE, timeout=30_000)


def test_typing_updates_every_model_s_predictions(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(server)
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=60_000)
    wait_idle(page)
    box = page.get_by_label("Type here: every model guesses the next character")
    assert box.input_value() == "neuron"
    before = chart_texts(page)
    assert len(before) == 3
    box.fill("")
    box.press_sequentially("To be, or not to b", delay=40)
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('text=To')", timeout=10_000)
    after = chart_texts(page)
    assert len(after) == 3 and all(a != b for a, b in zip(after, before, strict=True))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "typing.png", full_page=True)
    assert page.locator("text=Traceback").count() == 0
    page.close()


def test_markup_typed_in_the_box_stays_text(server, browser):
    page = browser.new_page()
    page.goto(server + "/?text=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=60_000)
    wait_idle(page)
    dialogs = []
    page.on("dialog", lambda d: dialogs.append(d))
    assert page.locator("img[src=x]").count() == 0 and not dialogs
    assert page.locator("text=Traceback").count() == 0
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
