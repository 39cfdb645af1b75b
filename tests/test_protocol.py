"""The page protocol (ui/protocol.py): every payload the pages send, built from the real models, has exactly
the fields its schema names, and every field the components' JS reads is one the schema names."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import component
from ui import fast, protocol
from ui.protocol import BadRequest, Board, Card, Constants, ErrorFrame, Reply, Static, View, Writer, parse_request

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "ui" / "web"
TIMEOUT = 60


def problems(value, tp, at: str = "payload") -> list[str]:
    """Where `value` departs from the type `tp` (TypedDicts by their exact keys), as readable paths."""
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{at}: {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(tp)
        required = tp.__required_keys__
        found = [f"{at}.{k}: not in {tp.__name__}" for k in value if k not in hints]
        found += [f"{at}.{k}: missing" for k in required if k not in value]
        for k, v in value.items():
            if k in hints:
                found += problems(v, hints[k], f"{at}.{k}")
        return found
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return [] if any(not problems(value, a, at) for a in args) else [f"{at}: {value!r} is none of {tp}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{at}: {type(value).__name__}, not a list"]
        return [p for i, v in enumerate(value) for p in problems(v, args[0], f"{at}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{at}: {type(value).__name__}, not an object"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{at}[{k!r}]")]
    if tp is type(None):
        return [] if value is None else [f"{at}: {value!r} is not null"]
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{at}: {value!r} is not a number"]
    if tp is int and isinstance(value, bool):
        return [f"{at}: {value!r} is not an integer"]
    return [] if isinstance(value, tp) else [f"{at}: {value!r} is not {tp.__name__}"]


@pytest.fixture(scope="module")
def main_page():
    at = AppTest.from_file("../unrolled.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


def test_the_rerun_path_reply_with_its_static_parts_follows_the_schema(main_page):
    data = component(main_page, "-live")
    assert problems(data, Reply) == []
    assert set(data["views"]) == {card["id"] for card in data["static"]["models"]}
    ahead = data["views"]["lstm"]["ahead"]
    assert len(ahead["keys"]) == len(ahead["ids"]) == len(ahead["p"]) == protocol.AHEAD_ROWS


def test_the_writer_payload_follows_the_schema(main_page):
    data = component(main_page, "-writer")
    assert problems(data, Writer) == [] and len(data["written"]) == 3


def test_the_guessing_board_follows_the_schema_before_and_after_a_guess():
    at = AppTest.from_file("../views/guess.py", default_timeout=TIMEOUT)
    at.query_params["seed"] = "3"
    at.run()
    assert problems(component(at, "-guess_board"), Board) == []
    text = component(at, "-guess_board")
    at.session_state["guess_board"] = {"typed": {"guess": "e", "seq": 1}}
    at.run()
    data = component(at, "-guess_board")
    assert problems(data, Board) == [] and data["seq"] == 1 and text["seed"] == 3


@pytest.mark.parametrize("text", ["neuron", "To be, or not to b", "x" * 1200, "naïve 😀\ttab"])
def test_a_fast_path_reply_follows_the_schema(text):
    frame = json.loads(fast.answer(json.dumps({"text": text, "seq": 7}), {}))
    assert frame.pop("type") == "reply"
    assert problems(frame, Reply) == [] and frame["seq"] == 7
    assert "static" not in frame  # the fast path never carries the static parts
    assert frame["cut"] == (len(text) > 1000)


@pytest.mark.parametrize("raw", ["{", "[]", '{"text": 5}', '{"text": "a", "seq": 1e300}', '{"text": "a", "seq": -1}'])
def test_a_fast_path_error_follows_the_schema(raw):
    frame = json.loads(fast.answer(raw, {}))
    assert problems(frame, ErrorFrame) == [] and frame["type"] == "error"


def test_the_schema_checker_itself_catches_a_missing_an_extra_and_a_mistyped_field():
    view = {"top": {"ids": [1], "p": [0.5]}, "ahead": {"keys": [1], "bits": [1.0], "ids": [[1]], "p": [[0.5]]}}
    view |= {"bits": [None, 2.0], "steps": {"chars": ["a"], "guess": [1], "p": [0.5]}}
    assert problems(view, View) == []
    assert problems({k: v for k, v in view.items() if k != "bits"}, View) == ["payload.bits: missing"]
    assert problems({**view, "extra": 1}, View) == ["payload.extra: not in View"]
    assert problems({**view, "top": {"ids": ["a"], "p": [0.5]}}, View) == ["payload.top.ids[0]: 'a' is not int"]
    assert problems({**view, "bits": [True]}, View)  # a bool is not a number


def test_constants_are_sent_from_the_protocol_module():
    sent = protocol.constants()
    assert problems(sent, Constants) == []
    assert sent["top_k"] == protocol.TOP_K and sent["max_bits"] == protocol.MAX_BITS


def test_a_request_is_checked_field_by_field():
    assert parse_request({"text": "ab", "seq": 3, "has": None}) == protocol.Request("ab", 3, None)
    for bad in [None, [], {"seq": 1}, {"text": "a", "seq": True}, {"text": "a", "seq": 2**53}, {"text": "\ud800"}]:
        with pytest.raises(BadRequest):
            parse_request(bad)


# ---- the JS reads only what the schema names. Each component names its payloads the same way throughout;
# this table says which schema each name holds. Fields the JS adds itself are listed with why.
READERS = {
    "live.js": {
        "data": Reply,
        "reply": Reply,
        "frame": Reply | ErrorFrame,
        "view": None,  # the page's own view object (viewFromReply), not a payload
        "fixed": Static,
        "P": Constants,
        "card": Card,
        "c": Card,
        "m": View,
        "top": protocol.Guesses,
        "steps": protocol.Steps,
    },
    "writer.js": {"data": Writer, "w": protocol.Written},
    "guess.js": {"data": Board, "r": protocol.Revealed, "s": protocol.Score},
}
ADDED_IN_JS = {
    "fixed": {"key"},  # the static key, kept beside the static parts it names
    "card": {"index"},  # character -> token id, built once from vocab
    "c": {"index", "slice"},  # `c.slice` reads a colour string in bitsColor, not a card
}
JS_BUILTINS = {"length", "map", "forEach", "filter", "slice", "concat", "includes", "join", "reduce", "sort"}


def fields_of(tp) -> set[str]:
    if tp is None:
        return set()
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return set().union(*(fields_of(a) for a in typing.get_args(tp)))
    return set(typing.get_type_hints(tp))


def unknown_reads(source: str, readers: dict) -> set[str]:
    """`name.field` reads in a component's source whose field the schema held by `name` lacks."""
    source = re.sub(r"//[^\n]*", "", source)  # comments may mention anything
    unknown = set()
    for var, field in re.findall(r"(?<![\w.$])(\w+)\??\.(\w+)", source):
        if var in readers and readers[var] is not None:
            allowed = fields_of(readers[var]) | ADDED_IN_JS.get(var, set()) | JS_BUILTINS
            if field not in allowed:
                unknown.add(f"{var}.{field}")
    return unknown


@pytest.mark.parametrize("name", sorted(READERS))
def test_every_field_the_js_reads_is_in_the_schema(name):
    assert unknown_reads((WEB / name).read_text(encoding="utf-8"), READERS[name]) == set()


def test_the_field_scan_finds_a_read_the_schema_lacks():
    """The scan above would catch a renamed field: live.js reading `m.ahead_ids` or `data.views_list`."""
    source = (WEB / "live.js").read_text(encoding="utf-8")
    changed = source + "\nconst x = m.ahead_ids + data?.views_list; // m.in_a_comment\n"
    assert unknown_reads(changed, READERS["live.js"]) == {"m.ahead_ids", "data.views_list"}


def test_the_js_holds_no_copy_of_the_protocol_s_constants():
    source = (WEB / "live.js").read_text(encoding="utf-8")
    for literal in ["0.65", "8.0", "TOP_K", "MAX_BITS", "1000", "/api/live"]:
        assert literal not in source
    assert "calc(40" not in (WEB / "live.css").read_text(encoding="utf-8")


def test_each_helper_is_defined_once_in_the_prelude_and_joined_in_front_of_every_component():
    from ui.assets import script

    prelude = (WEB / "prelude.js").read_text(encoding="utf-8")
    helpers = re.findall(r"^function (\w+)", prelude, flags=re.M)
    assert {"el", "svg", "fill", "setText", "setStyle", "visible", "textChannel"} <= set(helpers)
    for name in ["live.js", "writer.js", "guess.js"]:
        own = (WEB / name).read_text(encoding="utf-8")
        assert not [h for h in helpers if re.search(rf"\bfunction {h}\b|\bconst {h}\b", own)], name
        assert script(name).startswith(prelude)
    shared = re.findall(r"^function (\w+)", (WEB / "distribution.js").read_text(encoding="utf-8"), flags=re.M)
    assert shared == ["scoreHead", "distributionChart"]  # the game's board and the projector view draw them one way
    for name in ["guess.js", "projector.js"]:
        assert not [f for f in shared if f"function {f}" in (WEB / name).read_text(encoding="utf-8")]
    biome = json.loads((ROOT / "biome.json").read_text(encoding="utf-8"))
    assert set(biome["javascript"]["globals"]) == set(helpers) | set(shared)  # exactly the shared globals


def test_a_reply_without_the_lookahead_still_follows_the_schema_and_draws_the_same():
    """What the fast path answers while it is behind (ui.fast.Replier.SHED_AT): the same views, no lookahead rows."""
    full = json.loads(fast.answer(json.dumps({"text": "To be, or", "seq": 1}), {}))
    shed = json.loads(fast.answer(json.dumps({"text": "To be, or", "seq": 1}), {}, ahead=False))
    assert shed.pop("type") == "reply" and problems(shed, Reply) == []
    for mid, view in shed["views"].items():
        assert view["ahead"] == {"keys": [], "bits": [], "ids": [], "p": []}
        assert {k: v for k, v in view.items() if k != "ahead"} == {
            k: v for k, v in full["views"][mid].items() if k != "ahead"
        }


def test_the_accent_colour_lives_in_the_theme_alone():
    import tomllib

    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["theme"]
    assert theme["primaryColor"].lower() != "#ff4b4b"  # Streamlit's red made a focused box look like an error
    for css in WEB.glob("*.css"):
        text = css.read_text(encoding="utf-8").lower()
        assert "#ff4b4b" not in text and theme["primaryColor"].lower() not in text, css.name
    assert "var(--st-primary-color)" in (WEB / "live.css").read_text(encoding="utf-8")
