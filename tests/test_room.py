"""A class room on the Guess page, in Chromium against a real `streamlit run app.py` with its own SQLite store:
a teacher opens a room, students join by its link or by typing its code, play, reload, and see the class's
figures; a closed room's link plays alone. What the store holds is checked at the end."""

from __future__ import annotations

import re
import time

import pytest

from bench.common import streamlit_server
from core.guess import load_passages
from core.models import SHIPPED_DIR
from store.rooms import Store
from tests.helpers import open_expander, wait_idle

SHOWN = (
    "(t) => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&"
    " e.shadowRoot.querySelector('.game') && e.shadowRoot.querySelector('.game').dataset.shown === t)"
)


@pytest.fixture(scope="module")
def room_server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'rooms.sqlite3'}"
    with streamlit_server(env={"UNROLLED_DB_URL": url}) as (server, _):
        yield server, url


def guess_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1300, "height": 1800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".game .passage", timeout=60_000)
    wait_idle(page)
    return page


def type_chars(page, chars: str, shown: str) -> None:
    page.get_by_label("Your guess").focus()
    for ch in chars:
        page.keyboard.press("Enter" if ch == "\n" else "Space" if ch == " " else ch)
    page.wait_for_function(SHOWN, arg=shown, timeout=60_000)


def class_players(page) -> str:
    """The players the class's row of the results table rests on."""
    row = page.locator("[data-testid=stTable] tr").filter(has_text="The class").first
    row.wait_for(timeout=30_000)
    return row.locator("td").last.inner_text().strip()


def open_room(browser, server: str):
    teacher = guess_page(browser, server + "/Guess?seed=3")
    open_expander(teacher, "Play together: a class room")
    teacher.get_by_role("button", name="Open a room for a class").click()
    teacher.wait_for_url(re.compile(r"room=[A-Z2-9]{6}"), timeout=30_000)
    code = re.search(r"room=([A-Z2-9]{6})", teacher.url).group(1)
    teacher.get_by_text(f"Room {code}").first.wait_for(timeout=30_000)
    return teacher, code


def test_a_class_plays_one_room_together_and_each_sees_the_pooled_figures(room_server, browser):
    server, url = room_server
    teacher, code = open_room(browser, server)
    assert "seed=" not in teacher.url
    # the teacher's page is on 127.0.0.1: phones cannot reach it, so it asks for the class's address
    teacher.get_by_text("only works on this computer").wait_for(timeout=10_000)
    teacher.get_by_label("The address the class should use (such as 192.168.1.20:8501)").fill("192.168.1.20:8501")
    teacher.keyboard.press("Enter")
    link = f"http://192.168.1.20:8501/Guess?room={code}"
    teacher.get_by_text(link).first.wait_for(timeout=10_000)
    assert teacher.locator("[data-testid=stImage] img, [data-testid=stImage] svg").count() >= 1  # the QR code
    text = load_passages(SHIPPED_DIR).texts[3]

    ada = guess_page(browser, f"{server}/Guess?room={code}")
    ada.get_by_text(f"You are in room {code} · players so far").wait_for(timeout=30_000)
    assert ada.get_by_role("button", name="New passage").is_hidden()  # the room's passage, for everyone
    ada.get_by_label("Nickname (optional)", exact=True).fill("<b>Ada</b>")
    ada.keyboard.press("Enter")
    wait_idle(ada)
    type_chars(ada, text[:10], text[:10])
    # a reload is the same player (localStorage), and resumes where the records end
    ada.reload()
    ada.wait_for_function(SHOWN, arg=text[:10], timeout=60_000)
    type_chars(ada, text[10:], text)
    ada.get_by_role("heading", name="The class's result").wait_for(timeout=30_000)
    assert class_players(ada) == "1"

    # a third player types the code by hand, in lower case
    bob = guess_page(browser, server + "/Guess")
    open_expander(bob, "Play together: a class room")
    bob.get_by_label("Room code").fill(code.lower())
    bob.get_by_role("button", name="Join").click()
    bob.get_by_text(f"You are in room {code} · players so far").wait_for(timeout=30_000)
    wrong = next(c for c in "zqxj" if c != text[0])
    type_chars(bob, wrong + text, text)
    bob.get_by_role("heading", name="The class's result").wait_for(timeout=30_000)
    assert class_players(bob) == "2"
    assert "The class" in bob.locator(".game table.scores").inner_text()  # the board draws the class beside you

    # the teacher hides Ada's nickname, then closes the room: its link plays alone, and says so
    teacher.reload()
    teacher.get_by_text(f"Room {code}").first.wait_for(timeout=30_000)
    teacher.get_by_text("Players joined: 2 of 60.").wait_for(timeout=10_000)
    teacher.get_by_role("button", name="Close the room").click()
    teacher.get_by_text("The room is closed").wait_for(timeout=10_000)
    late = guess_page(browser, f"{server}/Guess?room={code}")
    late.get_by_text(f"Room {code} is closed: you play alone.").wait_for(timeout=30_000)
    late.get_by_role("button", name="New passage").wait_for(state="visible", timeout=10_000)

    store = Store.open(url)
    records = store.records(code)
    by_player = {}
    for r in records:
        by_player.setdefault(r.player, []).append(r)
    assert sorted(len(v) for v in by_player.values()) == [len(text), len(text)]  # each character once, each
    first = {r.player: r for r in records if r.position == 0}
    assert sorted((r.count, r.wrong) for r in first.values()) == [(1, ""), (2, wrong)]
    assert {p.nickname for p in store.players(code)} == {"<b>Ada</b>", None}  # kept as typed, shown as text
    for page in (teacher, ada, bob, late):
        assert page.locator("text=Traceback").count() == 0
        assert page.locator("b", has_text="Ada").count() == 0  # never drawn as markup
        page.context.close()


def test_a_mistyped_or_unknown_code_plays_alone_and_says_so(room_server, browser):
    server, _ = room_server
    page = guess_page(browser, server + "/Guess?room=NOPE")
    page.get_by_text("is not a room code").wait_for(timeout=30_000)
    page.goto(server + "/Guess?room=ZZZZZZ")
    page.get_by_text("There is no open room ZZZZZZ").wait_for(timeout=30_000)
    page.get_by_role("button", name="New passage").wait_for(state="visible", timeout=10_000)
    assert page.locator("text=Traceback").count() == 0
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_axe_finds_no_serious_violation_on_a_room_for_a_student_or_its_teacher(room_server, browser, lang):
    from tests.test_a11y import AXE

    server, url = room_server
    room, key = Store.open(url).create_room(passage=2)
    for teacher in (False, True):
        context = browser.new_context(viewport={"width": 1300, "height": 1800})
        if teacher:  # the browser that opened the room keeps its key
            context.add_init_script(f"localStorage.setItem('unrolled-room-key-{room.code}', '{key}')")
        page = context.new_page()
        page.goto(f"{server}/Guess?room={room.code}&lang={lang}")
        page.wait_for_selector(".game .passage", timeout=60_000)
        heading = {"en": f"Room {room.code}", "zh-TW": f"房間 {room.code}"}[lang]
        if teacher:
            page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        else:
            nickname = {"en": "Nickname (optional)", "zh-TW": "暱稱（可不填）"}[lang]
            page.get_by_label(nickname, exact=True).wait_for(timeout=30_000)
        wait_idle(page)
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        violations = page.evaluate(
            "async () => (await axe.run(document)).violations"
            ".map((v) => ({id: v.id, impact: v.impact, where: v.nodes[0].target.join(' ')}))"
        )
        assert not [v for v in violations if v["impact"] in ("serious", "critical")], (teacher, violations)
        context.close()


def test_the_classroom_benchmark_runs_and_every_revealed_character_is_stored_once(tmp_path):
    """bench.classroom briefly, so that it cannot rot between runs: its JSON holds the runs in the issue's shape."""
    import json
    import subprocess
    import sys

    out = tmp_path / "classroom.json"
    command = [sys.executable, "-m", "bench.classroom", "--students", "3", "--repeat", "1", "--seconds", "6"]
    run = subprocess.run([*command, "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (result,) = json.loads(out.read_text())["runs"]
    assert {"store", "processes", "students", "projectors", "guess_p95_ms", "sent", "stored", "doubled"} <= set(result)
    assert (result["store"], result["processes"], result["students"], result["projectors"]) == ("sqlite", 1, 3, 0)
    assert result["path"] == "socket"  # as the page sends a guess once its socket is open
    assert result["error_count"] == 0 and result["guesses"] >= 6 and result["guess_p95_ms"] > 0
    assert result["sent"] == result["stored"] > 0 and result["doubled"] == 0 and result["missing"] == {}


RECORDED = (
    "() => { for (const e of document.querySelectorAll('*')) { const p = e.shadowRoot &&"
    " e.shadowRoot.querySelector('.projector'); if (p) return Number(p.dataset.recorded); } return -1; }"
)


def test_the_projector_view_follows_two_students_within_two_seconds_and_never_shows_the_key(room_server, browser):
    from tests.test_a11y import AXE

    server, url = room_server
    room, key = Store.open(url).create_room(passage=6)
    text = load_passages(SHIPPED_DIR).texts[6]
    wall = browser.new_context(viewport={"width": 1600, "height": 1200})
    wall.add_init_script(f"localStorage.setItem('unrolled-room-key-{room.code}', '{key}')")  # the teacher's browser
    projector = wall.new_page()
    projector.goto(f"{server}/Projector?room={room.code}")
    projector.wait_for_function(f"({RECORDED})() === 0", timeout=60_000)
    students = [guess_page(browser, f"{server}/Guess?room={room.code}") for _ in range(2)]
    for page in students:
        page.get_by_text(f"You are in room {room.code} · players so far").wait_for(timeout=30_000)
    lags = []
    for n in range(6):  # the students take turns; each revealed character reaches the wall
        page = students[n % 2]
        position = n // 2
        began = time.monotonic()
        type_chars(page, text[position], text[: position + 1])
        projector.wait_for_function(f"({RECORDED})() >= {n + 1}", timeout=10_000)
        lags.append(time.monotonic() - began)
    assert max(lags) < 2.0, lags  # from the key to the wall showing it
    assert projector.url.endswith(f"Projector?room={room.code}")  # never reloaded
    content = projector.content()
    links = projector.evaluate("() => [...document.querySelectorAll('a')].map((a) => a.href).join(' ')")
    assert key not in content and key not in links and key not in projector.url
    projector.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = projector.evaluate(
        "async () => (await axe.run(document)).violations.filter((v) => ['serious', 'critical'].includes(v.impact))"
        ".map((v) => v.id)"
    )
    assert violations == []
    for page in students:
        page.context.close()
    wall.close()


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_axe_finds_no_serious_violation_on_the_projector_view(room_server, browser, lang):
    from tests.test_a11y import AXE

    server, url = room_server
    store = Store.open(url)
    room, key = store.create_room(passage=8)
    store.join(room.code, "p1", "<i>Ada</i>")
    store.record(room.code, 8, "p1", 0, 3, "ab")
    context = browser.new_context(viewport={"width": 1600, "height": 1200})
    context.add_init_script(f"localStorage.setItem('unrolled-room-key-{room.code}', '{key}')")
    page = context.new_page()
    page.goto(f"{server}/Projector?room={room.code}&address=192.168.1.20:8501&lang={lang}")
    page.wait_for_function(f"({RECORDED})() === 1", timeout=60_000)
    wait_idle(page)
    assert page.locator("i", has_text="Ada").count() == 0  # the nickname is text, never markup
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations.filter((v) => ['serious', 'critical'].includes(v.impact))"
        ".map((v) => ({id: v.id, where: v.nodes[0].target.join(' ')}))"
    )
    assert violations == []
    context.close()
