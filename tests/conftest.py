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
