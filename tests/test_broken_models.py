"""Broken model folders, each run through every page in AppTest: nothing reaches the viewer as an exception,
each fault switches off only what it breaks, and the message names the model and the reason."""

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.contract import sha256_file
from core.models import SHIPPED_DIR
from tests.helpers import component

TIMEOUT = 120
PAGES = ["../unrolled.py", "../views/memory_lab.py", "../views/guess.py"]


def raw_entry(manifest: dict, mid: str) -> dict:
    """A manifest entry by id: a retrain may reorder them."""
    return next(e for e in manifest["models"] if e["id"] == mid)


def read(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


SHIPPED = len(read(SHIPPED_DIR)["models"])  # an appended entry's position
APPENDED = f"entry {SHIPPED}"


def entry(folder: Path, mid: str, **changes) -> None:
    manifest = read(folder)
    e = raw_entry(manifest, mid)
    for key, value in changes.items():
        if value is DELETE:
            e.pop(key, None)
        else:
            e[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))


DELETE = object()


def swap_file(folder: Path, mid: str, key: str, other: str) -> None:
    """Put another file in place of `mid`'s, with its sha256 updated: the hash check passes, the contract must not."""
    manifest = read(folder)
    target = raw_entry(manifest, mid)
    shutil.copy(folder / other, folder / target[key])
    target[key.replace("file", "sha256")] = sha256_file(folder / target[key])
    (folder / "manifest.json").write_text(json.dumps(manifest))


def append(folder: Path, item) -> None:
    manifest = read(folder)
    manifest["models"].append(item(manifest) if callable(item) else item)
    (folder / "manifest.json").write_text(json.dumps(manifest))


# (name, how to break a copy of the shipped folder, the model the message must name or None for the folder)
BREAKS = [
    ("unk_id is a string", lambda f: entry(f, "rnn", unk_id="0"), "rnn"),
    ("unk_id is null", lambda f: entry(f, "rnn", unk_id=None), "rnn"),
    ("unk_id out of range", lambda f: entry(f, "rnn", unk_id=999), "rnn"),
    ("file is null", lambda f: entry(f, "lstm", file=None), "lstm"),
    ("file is a number", lambda f: entry(f, "lstm", file=42), "lstm"),
    ("metrics empty", lambda f: entry(f, "ff", metrics={}), "ff"),
    ("params a word", lambda f: entry(f, "ff", params="many"), "ff"),
    ("hidden_size a string", lambda f: entry(f, "lstm", hidden_size="512"), "lstm"),
    ("hidden_size wrong", lambda f: entry(f, "lstm", hidden_size=256), "lstm"),
    (
        "vocab shorter than the graph",
        lambda f: entry(f, "rnn", vocab=raw_entry(read(f), "rnn")["vocab"][:-5]),
        "rnn",
    ),
    ("vocab empty", lambda f: entry(f, "rnn", vocab=[]), "rnn"),
    ("vocab a string", lambda f: entry(f, "rnn", vocab="<unk>abc"), "rnn"),
    ("vocab missing", lambda f: entry(f, "rnn", vocab=DELETE), "rnn"),
    ("sha256 missing", lambda f: entry(f, "ff", sha256=DELETE), "ff"),
    ("unknown arch", lambda f: entry(f, "ff", arch="transformer"), "ff"),
    ("recall model without task_spec", lambda f: entry(f, "recall-rnn", task_spec=DELETE), "recall-rnn"),
    ("file outside the folder", lambda f: entry(f, "ff", file="../outside/stolen.onnx"), "ff"),
    ("file is /etc/passwd", lambda f: entry(f, "ff", file="../../../../../../etc/passwd"), "ff"),
    ("an rnn graph under the ff entry", lambda f: swap_file(f, "ff", "file", "rnn.onnx"), "ff"),
    ("a text graph under a recall entry", lambda f: swap_file(f, "recall-rnn", "file", "rnn.onnx"), "recall-rnn"),
    ("another model's analysis cell", lambda f: swap_file(f, "lstm", "cell_file", "rnn.cell.onnx"), "lstm"),
    ("analysis cell missing", lambda f: (f / "rnn.cell.onnx").unlink(), "rnn"),
    ("analysis cell corrupt", lambda f: (f / "rnn.back.onnx").write_bytes(b"garbage"), "rnn"),
    ("model file missing", lambda f: (f / "rnn.onnx").unlink(), "rnn"),
    ("an entry that is a string", lambda f: append(f, "not an entry"), APPENDED),
    ("a duplicate id", lambda f: append(f, lambda m: dict(raw_entry(m, "ff"))), f"ff ({APPENDED})"),
    ("clipping.json not JSON", lambda f: (f / "clipping.json").write_text("{oops"), "clipping.json"),
    ("passages.json not JSON", lambda f: (f / "passages.json").write_text("{oops"), "passages.json"),
    ("manifest.json is a directory", lambda f: ((f / "manifest.json").unlink(), (f / "manifest.json").mkdir()), None),
    ("manifest.json not JSON", lambda f: (f / "manifest.json").write_text("{"), None),
    ("no models folder at all", lambda f: shutil.rmtree(f), None),
]


@pytest.mark.parametrize("name, broken, named", BREAKS, ids=[b[0] for b in BREAKS])
def test_a_broken_folder_gives_a_message_never_an_exception(tmp_path, monkeypatch, name, broken, named):
    folder = tmp_path / "models"
    shutil.copytree(SHIPPED_DIR, folder)
    broken(folder)
    monkeypatch.setenv("UNROLLED_MODELS_DIR", str(folder))
    said = []
    for page in PAGES:
        at = AppTest.from_file(page, default_timeout=TIMEOUT)
        at.query_params["seed"] = "1"
        at.run()
        assert not at.exception, (page, at.exception)
        said += [m.value for m in [*at.warning, *at.error, *at.info]]
    everything = "\n".join(said)
    if named is None:
        assert "models folder cannot be used" in everything and "UNROLLED_MODELS_DIR" in everything
    else:
        assert (named if named.endswith(".json") else f"`{named}`") in everything, everything[:500]


def test_one_broken_entry_leaves_every_other_model_working(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    shutil.copytree(SHIPPED_DIR, folder)
    entry(folder, "rnn", vocab=[])
    monkeypatch.setenv("UNROLLED_MODELS_DIR", str(folder))
    at = AppTest.from_file("../unrolled.py", default_timeout=TIMEOUT).run()
    assert [m["id"] for m in component(at, "-live")["static"]["models"]] == ["ff", "lstm"]
