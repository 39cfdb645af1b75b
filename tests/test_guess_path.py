"""The guessing game's socket (ui/guess_path.py), without a server: a move judged and answered as a board, once
whichever way it comes; in a room, recorded once; what it cannot take, an error frame and never a traceback."""

from __future__ import annotations

import json

import pytest

from core.guess import GAVE_UP, Game, load_passages
from core.models import SHIPPED_DIR
from store.rooms import Store
from ui import guess, guess_path, room

TEXT = load_passages(SHIPPED_DIR).texts[5]


@pytest.fixture
def play():
    """A page's game playing alone on passage 5, findable by its token as a script run leaves it."""
    made = guess.Play("tok-alone")
    made.game, made.key, made.seed = Game(TEXT), ("alone", 5), 5
    guess.PLAYS[made.token] = made
    yield made
    guess.PLAYS.pop(made.token, None)


def send(token: str, **move) -> dict:
    return json.loads(guess_path.answer(json.dumps(move), token))


def test_a_guess_is_judged_and_its_board_comes_back(play):
    wrong = next(c for c in "zqxj" if c != TEXT[0])
    frame = send(play.token, guess=wrong, seq=1)
    assert frame["type"] == "board" and frame["rerun"] is False
    board = frame["board"]
    assert (board["seq"], board["shown"], board["wrong"]) == (1, "", [wrong])
    board = send(play.token, guess=TEXT[0], seq=2)["board"]
    assert (board["shown"], board["record"][0]["counts"][0]) == (TEXT[0], 2)
    assert board["room"] is None and "link" not in board  # the link comes with a script run's board only


def test_a_move_sent_again_or_late_is_applied_once(play):
    send(play.token, guess=TEXT[0], seq=3)
    for seq in (3, 2, 0):  # the same seq again (sent both ways), and older ones
        board = send(play.token, guess=TEXT[1], seq=seq)["board"]
        assert (board["seq"], board["shown"]) == (3, TEXT[0])
    assert play.game.counts == [1]
    board = send(play.token, seq=3)["board"]  # no move: the board as it is (what a socket sends on opening)
    assert board["shown"] == TEXT[0]


def test_asking_for_the_board_takes_no_seq_from_a_move_out_the_other_way(play):
    # the page opens its socket while a guess numbered 1 is out as a rerun, and asks for the board with seq 1
    assert send(play.token, seq=1)["board"]["seq"] == 0
    assert play.seq == 0  # so the rerun's guess, when it comes, is still applied


def test_show_reveals_the_character_as_the_most_guesses(play):
    board = send(play.token, show=True, seq=1)["board"]
    assert board["shown"] == TEXT[0] and play.game.counts == [GAVE_UP]


def test_the_board_speaks_the_page_s_language(play):
    play.lang = "zh-TW"
    board = send(play.token, guess="\x07", seq=1)["board"]
    assert board["label"] != "Your guess" and board["message"]
    assert not board["message"].isascii()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"guess": "a"}',
        '{"guess": "a", "seq": -1}',
        '{"guess": "a", "seq": true}',
        '{"guess": 5, "seq": 1}',
        '{"show": "yes", "seq": 1}',
        '{"guess": "\\ud800", "seq": 1}',
        '{"guess": "' + "a" * 5000 + '", "seq": 1}',
    ],
)
def test_what_is_not_a_move_gets_an_error_frame_and_changes_nothing(play, raw):
    frame = json.loads(guess_path.answer(raw, play.token))
    assert frame["type"] == "error" and frame["problem"]
    assert play.game.position == 0 and play.seq == 0


def test_a_token_with_no_game_here_is_told_so():
    frame = send("tok-nobody", guess="a", seq=1)
    assert frame["type"] == "error" and frame["problem"] == guess_path.NO_GAME


def test_a_play_goes_with_its_session():
    made = guess.Play("tok-gone")
    guess.PLAYS[made.token] = made
    del made
    assert guess.PLAYS.get("tok-gone") is None  # nothing kept for a session that ended


@pytest.fixture
def seated(tmp_path, monkeypatch):
    """A student's game in a room of a store of its own."""
    url = f"sqlite:///{tmp_path / 'rooms.sqlite3'}"
    monkeypatch.setenv("UNROLLED_DB_URL", url)
    monkeypatch.setattr(room._Opened, "store", None)
    monkeypatch.setattr(room._Opened, "tried", 0.0)
    store = Store.open(url)
    made, key = store.create_room(passage=5)
    store.join(made.code, "p-ada")
    play = guess.Play("tok-room")
    play.seat = room.Seat(made, "p-ada", None)
    play.game, play.key, play.seed = Game(TEXT[:3]), (made.code, 5, "p-ada"), 5
    play.drawn = guess.drawn_around(play.seat, play.game)
    guess.PLAYS[play.token] = play
    yield play, store, key
    guess.PLAYS.pop(play.token, None)
    room.forget_room(made.code)


def test_in_a_room_each_revealed_character_is_recorded_once_and_the_end_asks_for_a_run(seated):
    play, store, _ = seated
    code = play.seat.room.code
    wrong = next(c for c in "zqxj" if c != TEXT[0])
    send(play.token, guess=wrong, seq=1)
    frame = send(play.token, guess=TEXT[0], seq=2)
    assert frame["board"]["room"] == code and frame["rerun"] is False
    send(play.token, guess=TEXT[0], seq=2)  # sent again: not judged, not recorded again
    send(play.token, guess=TEXT[1], seq=3)
    frame = send(play.token, guess=TEXT[2], seq=4)
    assert frame["board"]["done"] and frame["rerun"] is True  # the page redraws around the board (the results)
    records = store.records(code)
    assert [(r.position, r.count, r.wrong) for r in records] == [(0, 2, wrong), (1, 1, ""), (2, 1, "")]
    assert "The class" in frame["board"]["players"]  # the class beside the student, once they have finished


def test_a_room_closed_mid_game_plays_on_alone_and_says_so(seated):
    play, store, key = seated
    code = play.seat.room.code
    store.close(code, key)
    frame = send(play.token, guess=TEXT[0], seq=1)
    assert frame["rerun"] is True and frame["board"]["room"] is None
    assert "closed" in frame["board"]["message"]
    assert play.left == code and play.seat is None  # the page's next run leaves the room
    assert store.records(code) == []


def test_in_a_room_no_move_is_taken_over_the_socket_before_the_page_has_said_who_it_is(seated):
    play, store, _ = seated
    # the page's first run: the id offered to it (room.offer), which the page has not yet said is its own
    play.seat = room.Seat(play.seat.room, "0" * 32, None, said=False)
    assert not play.ready
    frame = send(play.token, guess=TEXT[0], seq=1)
    assert frame["type"] == "error" and play.game.position == 0 and play.seq == 0
    assert store.records(play.seat.room.code) == []
