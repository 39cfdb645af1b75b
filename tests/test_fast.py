"""The fast path's front door (ui/fast.py), through a real `streamlit run app.py`: every message is hostile
until checked, each page's sockets are bounded, and no page reaches another's state."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from streamlit import config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bench.common import ROOT, streamlit_server
from ui import door, fast
from ui.protocol import SEQ_MAX

SECRET = "test-fast-path-secret"  # the server signs page tokens with its cookie secret; so does this test


@pytest.fixture(scope="module")
def server():
    config.set_option("server.cookieSecret", SECRET)
    with streamlit_server(env={"STREAMLIT_SERVER_COOKIE_SECRET": SECRET}) as (url, _):
        yield url


def socket(url: str, token: str | None = "", origin: str | None = "same", path: str = "/api/live"):
    token = door.issue_token() if token == "" else token
    query = "" if token is None else f"?token={token}"
    same = "{0.scheme}://{0.netloc}".format(urlparse(url))
    headers = {} if origin is None else {"Origin": same if origin == "same" else origin}
    return connect(url.replace("http", "ws", 1) + path + query, additional_headers=headers, open_timeout=10)


def ask(ws, message) -> dict:
    ws.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(ws.recv(timeout=30))


def test_a_page_with_its_token_gets_a_reply_for_its_text(server):
    with socket(server) as ws:
        frame = ask(ws, {"text": "To be, or not to b", "seq": 3})
    assert frame["type"] == "reply" and frame["seq"] == 3 and frame["text"] == "To be, or not to b"
    assert set(frame["views"]) == {"ff", "rnn", "lstm"}


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_an_upgrade_from_a_foreign_origin_is_refused(server, origin):
    with pytest.raises(InvalidStatus) as refused:
        socket(server, origin=origin)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("token", [None, "nonsense", "abc.def", "x" * 500])
def test_an_upgrade_without_a_token_the_server_signed_is_refused(server, token):
    with pytest.raises(InvalidStatus) as refused:
        socket(server, token=token)
    assert refused.value.response.status_code == 403


BAD = [
    ("{", "JSON"),
    ("[1, 2]", "object"),
    ('{"text": 5, "seq": 1}', "text"),
    ('{"text": "a", "seq": "1"}', "seq"),
    ('{"text": "a", "seq": true}', "seq"),
    (json.dumps({"text": "a", "seq": SEQ_MAX + 1}), "seq"),
    ('{"text": "a", "seq": 1e400}', "seq"),
    ('{"text": "a\\ud800b", "seq": 1}', "surrogate"),
    ('{"text": "a", "seq": 1, "has": 7}', "has"),
    ("[" * 100_000 + "]" * 100_000, "at most"),  # too big to parse, and too deep
]


def test_bad_messages_get_an_error_frame_and_the_socket_keeps_working(server):
    with socket(server) as ws:
        for raw, says in BAD[:-1]:
            frame = ask(ws, raw)
            assert frame["type"] == "error" and says in frame["problem"], raw
        assert ask(ws, {"text": "still here", "seq": 9})["text"] == "still here"


def test_a_message_over_the_size_cap_is_refused_and_the_socket_closed(server):
    with socket(server) as ws:
        frame = ask(ws, BAD[-1][0])
        assert frame["type"] == "error" and "at most" in frame["problem"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == door.CLOSE_TOO_BIG


def test_a_long_text_is_cut_to_the_cap_as_on_the_page(server):
    with socket(server) as ws:
        frame = ask(ws, {"text": "a" * 1500, "seq": 1})
    assert frame["cut"] and len(frame["text"]) == 1000


def test_a_flood_is_answered_with_too_many_messages_then_cut_off(server):
    with socket(server) as ws:
        for seq in range(door.BURST * 3):
            try:
                ws.send(json.dumps({"text": "a", "seq": seq}))
            except ConnectionClosed:
                break
        frames, code = [], None
        try:
            while True:
                frames.append(json.loads(ws.recv(timeout=30)))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
    assert any(f["type"] == "error" and f["problem"] == "too many messages" for f in frames)
    assert code == door.CLOSE_POLICY


def test_one_page_holds_at_most_its_share_of_sockets(server):
    token = door.issue_token()
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket(server, token=token)) for _ in range(fast.MAX_PER_PAGE)]
        for ws in held:
            assert ask(ws, {"text": "a", "seq": 1})["type"] == "reply"
        with pytest.raises((InvalidStatus, ConnectionClosed)), socket(server, token=token) as extra:
            ask(extra, {"text": "a", "seq": 1})
        with socket(server) as other:  # another page is not held back by this one
            assert ask(other, {"text": "b", "seq": 1})["type"] == "reply"
    time.sleep(0.3)
    with socket(server, token=token) as again:  # closed sockets free the page's share
        assert ask(again, {"text": "a", "seq": 2})["type"] == "reply"


def test_pages_typing_in_turn_each_get_their_own_text(server):
    with socket(server) as a, socket(server) as b:
        for n in range(1, 12):
            left, right = "To be, or not"[:n], "Now is the winter"[:n]
            assert ask(a, {"text": left, "seq": n})["text"] == left
            reply = ask(b, {"text": right, "seq": n})
            assert reply["text"] == right
        # b's readings (checkpoints) are its own: its reply equals a fresh socket's for the same text
        with socket(server) as fresh:
            assert ask(fresh, {"text": right, "seq": 1})["views"] == reply["views"]


def test_the_route_follows_the_base_url_path():
    with streamlit_server(env={"STREAMLIT_SERVER_COOKIE_SECRET": SECRET}, base="class") as (url, _):
        assert url.endswith("/class")
        with socket(url) as ws:  # as the page opens it: beside the page, under the base path
            assert ask(ws, {"text": "neuron", "seq": 1})["text"] == "neuron"
        with pytest.raises(InvalidStatus):
            socket(url.removesuffix("/class"))  # not at the root


def test_the_rate_limit_lets_a_page_s_pace_through_and_cuts_off_a_flood_that_never_pauses():
    bucket = door.Bucket()
    assert all(bucket.take() for _ in range(door.BURST))  # a burst is fine
    refused = sum(not bucket.take() for _ in range(door.BURST + 5))
    assert refused > door.BURST - 5 and bucket.refused > door.BURST - 5
    bucket.at -= door.BURST / door.RATE  # it waited long enough for the bucket to refill
    assert bucket.take() and bucket.refused == 0


def test_bench_reply_measures_the_replies_and_the_models_share_of_them():
    """bench.reply in brief, so that it cannot rot between runs: its models' share comes from wrapping
    core.step.steps and Model.run, and would read 0 if those were renamed."""
    command = [sys.executable, "-m", "bench.reply", "--repeats", "1", "--keys", "8", "--gaps", "0"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
    figures = re.search(r"this checkout (\S+) ms .* the models (\S+) ms and the rest (\S+) ms", out)
    reply, models, rest = map(float, figures.groups())
    assert 0 < models < reply and rest > 0


# ---- the guessing game's socket (ui/guess_path.py): the same front door


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_the_game_s_socket_refuses_a_foreign_origin(server, origin):
    with pytest.raises(InvalidStatus) as refused:
        socket(server, origin=origin, path="/api/guess")
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("token", [None, "nonsense"])
def test_the_game_s_socket_refuses_a_token_the_server_did_not_sign(server, token):
    with pytest.raises(InvalidStatus) as refused:
        socket(server, token=token, path="/api/guess")
    assert refused.value.response.status_code == 403


def test_a_signed_token_with_no_game_on_this_process_has_its_socket_closed(server):
    # a page whose session is not here (a server restarted): closed, so that the page sends its moves by reruns
    with socket(server, path="/api/guess") as ws:
        ws.send(json.dumps({"guess": "a", "seq": 1}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd.code == door.CLOSE_POLICY
