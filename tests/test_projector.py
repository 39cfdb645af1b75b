"""The projector view of a class room (views/projector.py), through AppTest in both languages: it needs the
room's teacher key, shows the class beside the models once it has it, and never puts the key in what it draws."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.guess import load_passages
from core.models import SHIPPED_DIR
from store.rooms import Store
from tests.helpers import component

TIMEOUT = 60


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """A room with two players who have revealed characters, in a store of its own."""
    url = f"sqlite:///{tmp_path / 'rooms.sqlite3'}"
    monkeypatch.setenv("UNROLLED_DB_URL", url)
    from ui import room

    monkeypatch.setattr(room._Opened, "store", None)
    monkeypatch.setattr(room._Opened, "tried", 0.0)
    store = Store.open(url)
    made, key = store.create_room(passage=4)
    text = load_passages(SHIPPED_DIR).texts[4]
    store.join(made.code, "p-ada", "<b>Ada</b>")
    store.join(made.code, "p-bob", "Bob")
    for position in range(10):
        store.record(made.code, 4, "p-ada", position, 1 + position % 3, "xy"[: position % 3])
    for position in range(4):
        store.record(made.code, 4, "p-bob", position, 2, "q")
    store.hide(made.code, key, "p-bob")
    return made.code, key, text


def open_view(code: str, key: str | None, lang: str = "en") -> AppTest:
    at = AppTest.from_file("../views/projector.py", default_timeout=TIMEOUT)
    at.query_params["room"] = code
    at.query_params["lang"] = lang
    at.run()
    if key is not None:  # what the view's component sends from the teacher's browser
        at.session_state["projector"] = {"key": key}
        at.run()
    assert not at.exception
    return at


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_the_view_shows_the_class_beside_the_models_once_it_has_the_teacher_key(classroom, lang):
    code, key, text = classroom
    at = open_view(code, key, lang)
    data = component(at, "projector")
    s = data["summary"]
    assert data["code"] == code and data["problem"] is None
    assert (s["players"], s["recorded"], s["length"]) == (2, 14, len(text))
    the_class = {"en": "The class", "zh-TW": "全班"}[lang]
    assert s["table"][0]["name"] == the_class and len(s["table"]) == 4  # the class and three models
    assert s["table"][0]["guesses_per_char"] == pytest.approx((10 * 2 - 1 + 1 + 4 * 2) / 14, abs=0.3)
    assert [p["name"] for p in s["progress"]] == ["<b>Ada</b>", {"en": "Player 2", "zh-TW": "玩家 2"}[lang]]
    assert [p["done"] for p in s["progress"]] == [10, 4]  # Bob's nickname is hidden, his progress is not
    assert s["strip"][0]["players"] == 2 and s["strip"][5]["players"] == 1 and s["strip"][20]["mean"] is None
    assert all(row["lstm"] >= 1 for row in s["strip"])
    assert data["strings"]["proj.as_of"] != "proj.as_of" and data["stale"] == 5.0
    assert key not in json.dumps(data)  # never sent to what is drawn
    drawn = [e.value for e in (*at.markdown, *at.info, *at.warning, *at.error)] + [b.label for b in at.button]
    assert not [text for text in drawn if key in str(text)]
    buttons = [b.label for b in at.button]
    assert {"en": "Close the room", "zh-TW": "關閉房間"}[lang] in buttons


def test_without_the_teacher_key_the_view_shows_nothing_of_the_class(classroom):
    code, _, _ = classroom
    for sent in (None, "not-the-key"):
        at = open_view(code, sent)
        data = component(at, "projector")
        assert data["summary"] is None and "teacher key" in data["problem"]
        assert not at.button


def test_the_view_rereads_the_store_only_when_the_room_moved(classroom, monkeypatch):
    from ui import projector

    code, key, _ = classroom
    built = []
    real = projector.build
    monkeypatch.setattr(projector, "build", lambda *a: built.append(1) or real(*a))
    projector._Summaries.built.clear()
    at = open_view(code, key)
    first = len(built)
    at.run()
    at.run()
    assert len(built) == first  # nothing new: the summary of that version is reused
    Store.open(projector_url()).record(code, 4, "p-bob", 4, 1, "")
    at.run()
    assert len(built) == first + 1 and component(at, "projector")["summary"]["recorded"] == 15


def projector_url() -> str:
    import os

    return os.environ["UNROLLED_DB_URL"]


def test_when_the_teacher_moves_the_room_on_a_student_finishes_the_passage_first(classroom, monkeypatch):
    from ui import room as room_ui

    monkeypatch.setattr(room_ui, "ROOM_RECHECK", 0.0)  # every run reads the room afresh
    code, key, text = classroom
    at = AppTest.from_file("../views/guess.py", default_timeout=TIMEOUT)
    at.query_params["room"] = code
    at.run()
    at.session_state["guess_board"] = {"who": {"player": "p-cyd", "keys": {}}}
    at.run()

    def play(ch: str, seq: int) -> dict:
        at.session_state["guess_board"] = {"who": {"player": "p-cyd", "keys": {}}, "typed": {"guess": ch, "seq": seq}}
        at.run()
        assert not at.exception
        return component(at, "guess_board")

    data = play(text[0], 1)
    assert data["room"] == code and data["shown"] == text[0] and data["number"] == 5
    Store.open(projector_url()).set_passage(code, key, 5)  # the teacher starts the next passage
    for i, ch in enumerate(text[1:], 2):
        data = play(ch, i)
    assert data["done"] and data["shown"] == text and data["number"] == 5  # this one first, to its end
    assert data["can_new"]  # and then the next is offered
    stored = [r for r in Store.open(projector_url()).records(code) if r.player == "p-cyd"]
    assert len(stored) == len(text) and {r.passage for r in stored} == {4}
    at.session_state["guess_board"] = {"who": {"player": "p-cyd", "keys": {}}, "new": True}
    at.run()
    data = component(at, "guess_board")
    assert data["number"] == 6 and data["shown"] == "" and not data["done"]


def test_a_first_visit_is_drawn_as_the_player_it_is_offered_to_be_and_joins_only_once_the_page_says_so(classroom):
    code, _, text = classroom
    at = AppTest.from_file("../views/guess.py", default_timeout=TIMEOUT)
    at.query_params["room"] = code
    at.run()
    data = component(at, "guess_board")
    offered = data["offer"]
    assert len(offered) == 32 and int(offered, 16) >= 0  # the id a page with none takes (ui/web/guess.js)
    assert "link" not in data  # no move may come before the page has said who it is
    assert [i.label for i in at.text_input] == ["Nickname (optional)"]  # drawn as the player's page already
    assert "players so far: 3" in " ".join(m.value for m in at.markdown)  # counted as the player it is about to be
    store = Store.open(projector_url())
    assert offered not in {p.player for p in store.players(code)}  # but not joined yet
    at.session_state["guess_board"] = {"who": {"player": offered, "keys": {}}}
    at.run()
    data = component(at, "guess_board")
    assert "offer" not in data and "link" in data and data["room"] == code
    assert offered in {p.player for p in store.players(code)}
    at.session_state["guess_board"] = {"who": {"player": offered, "keys": {}}, "typed": {"guess": text[0], "seq": 1}}
    at.run()
    assert [(r.position, r.count) for r in store.records(code) if r.player == offered] == [(0, 1)]
