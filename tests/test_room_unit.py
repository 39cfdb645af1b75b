"""The class room's pure parts (ui/room.py): the link a class can reach, and the export a teacher downloads."""

from __future__ import annotations

import csv
import io
import json

from store.rooms import Player, Record
from ui import room


def test_a_loopback_address_is_one_phones_cannot_reach():
    for host in ("localhost", "127.0.0.1", "127.8.0.1", "::1", "[::1]", "app.localhost", ""):
        assert room.is_local(host), host
    for host in ("192.168.1.20", "unrolled.streamlit.app", "10.0.0.5", "2001:db8::1"):
        assert not room.is_local(host), host


def test_the_address_a_teacher_types_becomes_the_class_s_link():
    assert room.typed_base("192.168.1.20:8501") == "http://192.168.1.20:8501/"
    assert room.typed_base("https://school.example/unrolled") == "https://school.example/unrolled/"
    assert room.typed_base("  ") is None and room.typed_base("ftp://x") is None and room.typed_base("http://") is None
    assert room.join_link("ABC234", "http://192.168.1.20:8501/") == "http://192.168.1.20:8501/Guess?room=ABC234"


def test_the_csv_has_a_row_per_character_and_no_cell_a_spreadsheet_would_run():
    texts = ["To be", "=SUM(A1)"]
    players = [Player("p1", '=HYPERLINK("http://x")', False, 0.0), Player("p2", 'Ada, "the" 1st', True, 0.0)]
    records = [
        Record(0, "p1", 0, 1, "", 1_765_000_000.0),
        Record(0, "p2", 1, 3, "-+", 1_765_000_001.0),
        Record(1, "p2", 0, 11, "@abcdefghi", 1_765_000_002.0),
    ]
    rows = list(csv.reader(io.StringIO(room.records_csv("ABC234", texts, records, players))))
    assert rows[0][:4] == ["room", "passage", "player", "nickname"] and len(rows) == 4
    assert rows[1][3] == '\'=HYPERLINK("http://x")' and rows[2][3] == 'Ada, "the" 1st' and rows[2][4] == "1"
    assert rows[2][6] == "o" and rows[2][7] == "3" and rows[2][8] == "'-+"  # the character, the guesses, wrong ones
    assert rows[3][6] == "'=" and rows[3][8] == "'@abcdefghi"  # passage 1's first character, made safe
    assert rows[1][9].startswith("2025-12-06T")


def test_the_summary_holds_the_class_and_each_model_on_the_same_characters():
    records = [Record(0, "a", 0, 1, "", 0.0), Record(0, "b", 0, 3, "xy", 0.0), Record(0, "a", 1, 2, "z", 0.0)]
    out = json.loads(room.summary_json("ABC234", 0, "To", records, {"lstm": [1, 4]}))
    assert (out["players"], out["characters"]) == (2, 3)
    assert out["class"]["guesses_per_char"] == 2.0 and len(out["class"]["q"]) == 11
    assert out["models"]["lstm"]["guesses_per_char"] == (1 + 1 + 4) / 3
    assert out["per_position"][0] == {
        "position": 0, "character": "T", "mean_guesses": 2.0, "players": 2, "lstm_guesses": 1
    }  # fmt: skip
    empty = json.loads(room.summary_json("ABC234", 0, "To", [], {}))
    assert empty["players"] == 0
