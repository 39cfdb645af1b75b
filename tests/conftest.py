"""Fixtures the browser tests share: one `streamlit run app.py` per test module, and Debian's chromium."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from bench.common import CHROMIUM, FLAGS, streamlit_server
from tests.helpers import SERVERS

# Servers the tests start keep any room they open in a throw-away folder, never in the checkout's data/
os.environ.setdefault("UNROLLED_DATA_DIR", tempfile.mkdtemp(prefix="unrolled-data-"))


@pytest.fixture(scope="module")
def server():
    """`streamlit run app.py` on a free port, healthy before the first test of the module; its URL."""
    with streamlit_server() as (url, process):
        SERVERS[url] = process.pid
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


INPUTS = """() => [...document.querySelectorAll('input, textarea')].map((e) => {
  const focus = e === document.activeElement ? ' (focus)' : '';
  return `input ${e.getAttribute('aria-label') || e.id || e.name}: ${JSON.stringify(e.value)}${focus}`;
}).join('\\n')"""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, its report says what each page it left open showed: its address and the start
    of its text, what its inputs hold and which has the focus. A failure seen only in CI then says where each page
    was, not only which wait timed out."""
    report = yield
    b = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and b is not None:
        for n, context in enumerate(b.contexts):
            for page in context.pages:
                try:
                    text = page.evaluate(INPUTS) + "\n" + page.locator("body").inner_text(timeout=2_000)
                except Exception as e:  # the page may be the reason: say so and go on to the next
                    text = f"(could not read: {e})"
                report.sections.append((f"page {n}: {page.url}", text[:3000]))
    return report
