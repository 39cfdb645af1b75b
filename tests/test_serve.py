"""scripts/serve.sh: several streamlit processes behind nginx, each browser kept on one of them."""

import os
import signal
import subprocess
import urllib.request

import pytest

from bench.common import CHROMIUM, FLAGS, LABEL, ROOT, NotHealthy, free_ports, wait_healthy
from tests.helpers import wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served():
    port = free_ports(3)  # nginx, then the two processes
    env = {**os.environ, "PORT": str(port), "SERVE_ADDRESS": "127.0.0.1"}
    proc = subprocess.Popen(
        ["bash", "scripts/serve.sh", "2"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 90, proc)
    except NotHealthy as e:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"serve.sh: {e}: {proc.stderr.read().decode()[-2000:]}")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def backend(url: str, cookie: str) -> str:
    request = urllib.request.Request(f"{url}/_stcore/health", headers={"Cookie": f"_streamlit_xsrf={cookie}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["X-Unrolled-Backend"]


def test_each_browser_stays_on_one_process_and_the_class_is_spread_over_both(served):
    cookies = [f"browser-{i}" for i in range(16)]
    first = {c: backend(served, c) for c in cookies}
    assert all(backend(served, c) == first[c] for c in cookies for _ in range(2))
    assert len(set(first.values())) == 2


def test_typing_through_the_proxy_updates_the_predictions(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for n in range(2):  # two browsers, two cookies
            page = browser.new_context().new_page()
            page.goto(served)
            page.wait_for_selector(".live .bar-row", timeout=60_000)
            wait_idle(page)
            box = page.get_by_label(LABEL)
            box.fill("")
            box.press_sequentially(f"To be, or not to b{n}", delay=30)
            wait_idle(page)
            page.wait_for_function(f"() => location.search.includes('b{n}')", timeout=10_000)
            assert page.locator(".live").get_attribute("data-shown") == f"To be, or not to b{n}"
            # keystrokes went over the fast path, through nginx, to the process that served the page
            assert page.locator(".live").get_attribute("data-transport") == "fast"
        browser.close()


def test_a_room_is_shared_by_students_on_both_processes(served):
    """Two students whose cookies lead to different processes play one room: both processes write to the one
    store (the tests' SQLite file, in UNROLLED_DATA_DIR), and each student's class figures count the other."""
    from playwright.sync_api import sync_playwright

    from core.guess import load_passages
    from core.models import SHIPPED_DIR
    from store import db
    from store.rooms import Store
    from tests.test_room import class_players, guess_page, type_chars

    store = Store.open(db.database_url())
    room, _ = store.create_room(passage=11)
    text = load_passages(SHIPPED_DIR).texts[11]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        students, backends = [], set()
        for _ in range(12):  # browsers until two sit on different processes
            page = guess_page(browser, f"{served}/Guess?room={room.code}")
            cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "_streamlit_xsrf")
            where = backend(served, cookie)
            if where in backends:
                page.context.close()
                continue
            backends.add(where)
            students.append(page)
            if len(students) == 2:
                break
        assert len(students) == 2, "every browser landed on one process"
        for page in students:
            page.get_by_text(f"You are in room {room.code} · players so far").wait_for(timeout=30_000)
            type_chars(page, text, text)
        students[1].get_by_role("heading", name="The class's result").wait_for(timeout=30_000)
        assert class_players(students[1]) == "2"  # the other process's student counts too
        browser.close()
    assert len(store.records(room.code)) == 2 * len(text)


def test_a_projector_view_on_one_process_sees_a_guess_made_through_the_other(served):
    from playwright.sync_api import sync_playwright

    from core.guess import load_passages
    from core.models import SHIPPED_DIR
    from store import db
    from store.rooms import Store
    from tests.test_room import RECORDED, guess_page, type_chars

    store = Store.open(db.database_url())
    room, key = store.create_room(passage=12)
    text = load_passages(SHIPPED_DIR).texts[12]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        wall = browser.new_context()
        wall.add_init_script(f"localStorage.setItem('unrolled-room-key-{room.code}', '{key}')")
        projector = wall.new_page()
        projector.goto(f"{served}/Projector?room={room.code}")
        projector.wait_for_function(f"({RECORDED})() === 0", timeout=60_000)
        wall_cookie = next(c["value"] for c in wall.cookies() if c["name"] == "_streamlit_xsrf")
        for _ in range(12):  # a student whose cookie leads to the other process
            student = guess_page(browser, f"{served}/Guess?room={room.code}")
            cookie = next(c["value"] for c in student.context.cookies() if c["name"] == "_streamlit_xsrf")
            if backend(served, cookie) != backend(served, wall_cookie):
                break
            student.context.close()
        else:
            pytest.fail("every browser landed on the projector's process")
        student.get_by_text(f"You are in room {room.code} · players so far").wait_for(timeout=30_000)
        type_chars(student, text[:3], text[:3])
        projector.wait_for_function(f"({RECORDED})() === 3", timeout=5_000)
        browser.close()
