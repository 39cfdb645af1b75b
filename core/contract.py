"""The model contract, written once: what models/manifest.json holds, how text becomes token ids, which
architectures exist, which states and gates each has (in which order), and what a hidden unit can be found to
track. export/, core/ and ui/ import it; tests/test_contract.py fails when another module spells any of these.

A manifest entry becomes a typed ModelEntry only if every field checks out (types, ranges, files inside the
models folder, a recall model's task_spec); a fault in one entry switches off that model alone. The graphs
are checked against their entries when core/models.py loads them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import InputError, ManifestError

UNK = "<unk>"  # the unknown token: always id 0, so any character a model never saw reads as id 0
UNK_ID = 0
NORMALIZATION = "NFC; \\r\\n and \\r become \\n; characters outside vocab become <unk>"  # what normalize() does
TASKS = ("text", "recall")


@dataclass(frozen=True)
class Arch:
    """One architecture: what its graphs carry between steps and what its analysis cell reports as gates.

    `gates` is also the order of the gate blocks in the weights (w_ih, w_hh and their biases are G blocks of
    H rows, torch's layout), so a cell splits its pre-activations and stacks its `gates` output (B, G, H) in
    this order, and readers find a gate with gate_index(), never by position."""

    id: str
    states: tuple[str, ...]  # graph inputs <name>_in, outputs <name>_out; () for a net with no memory
    gates: tuple[str, ...]


# In display order: the app shows the models from no memory to the most.
ARCHITECTURES = {
    a.id: a
    for a in (
        Arch("ff", states=(), gates=("hidden",)),
        Arch("rnn", states=("h",), gates=("hidden",)),
        Arch("gru", states=("h",), gates=("reset", "update", "candidate")),
        Arch("lstm", states=("h", "c"), gates=("input", "forget", "candidate", "output")),
    )
}
ARCHS = tuple(ARCHITECTURES)
STATE_NAMES = {a.id: a.states for a in ARCHITECTURES.values()}
GATE_NAMES = {a.id: a.gates for a in ARCHITECTURES.values()}


def gate_index(arch: str, gate: str) -> int:
    return GATE_NAMES[arch].index(gate)


def by_gate(arch: str, blocks) -> dict:
    """A sequence of G blocks (a split of the pre-activations, or of a `gates` output) by gate name."""
    blocks = list(blocks)
    if len(blocks) != len(GATE_NAMES[arch]):
        raise ValueError(f"{arch} has {len(GATE_NAMES[arch])} gates, not {len(blocks)}")
    return dict(zip(GATE_NAMES[arch], blocks, strict=True))


def in_gate_order(arch: str, named: dict) -> list:
    """The blocks of `named` (gate name -> block) in the architecture's gate order, every gate present."""
    return [named[g] for g in GATE_NAMES[arch]]


def display_rank(arch: str) -> int:
    return ARCHS.index(arch) if arch in ARCHITECTURES else len(ARCHS)


# What a hidden unit can be found to track (export/units.py measures them; the memory lab names them).
UNIT_FEATURES = ("newline", "position", "stage", "quotes")
# Manifests written before the ids stored these words; read as the ids, so no re-export is needed.
UNIT_FEATURE_WORDS = {
    "just after a newline": "newline",
    "position in the line": "position",
    "inside [stage directions]": "stage",
    'inside "quotes"': "quotes",
}

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # shown in messages and used in file names
SHA256 = re.compile(r"^[0-9a-f]{64}$")


# -----------------------------------------------------------------------------
# text


def normalize(text: str) -> str:
    """NFC; \\r\\n and \\r become \\n; lone surrogates (which cannot travel back to a browser) become U+FFFD."""
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    if text.isascii() and "\r" not in text:
        return text  # already NFC, and no surrogates: most typing, and a reply normalises its text four times
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def build_vocab(text: str) -> list[str]:
    """A training text's characters, sorted, after the unknown token."""
    return [UNK] + sorted(set(text))


class Vocab:
    def __init__(self, tokens: list[str], unk_id: int = UNK_ID):
        if not 0 <= unk_id < len(tokens):
            raise InputError(f"unk_id {unk_id} is outside a vocabulary of {len(tokens)} tokens")
        self.tokens, self.unk_id = list(tokens), unk_id
        self.index = {token: i for i, token in enumerate(tokens) if len(token) == 1}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids, one per character of the normalised text; the unknown token for any other character."""
        return self.ids(normalize(text))

    def ids(self, text: str) -> np.ndarray:
        """encode() of a text already normalised: a keystroke encodes only what it added."""
        return np.fromiter((self.index.get(ch, self.unk_id) for ch in text), dtype=np.int64, count=len(text))

    def known(self, ch: str) -> bool:
        return ch in self.index


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -----------------------------------------------------------------------------
# the manifest


@dataclass(frozen=True)
class TaskSpec:
    keys: str  # the characters a recall sequence starts with; the right answer is one of them
    distractors: str  # the characters between the key and the query
    query: str  # the character that asks for the key


@dataclass(frozen=True)
class TrackingUnit:
    unit: int  # index into the hidden or cell state
    signal: str  # "h" or "c"
    feature: str  # what it tracks: one of UNIT_FEATURES
    correlation: float


@dataclass(frozen=True)
class ModelEntry:
    id: str
    arch: str  # one of ARCHS
    task: str  # one of TASKS
    path: Path  # the graph, inside the models folder
    sha256: str
    vocab: Vocab
    params: int
    hidden_size: int
    layers: int
    embed_size: int | None  # the character embedding's width, where the entry records it
    test_nats_per_char: float | None  # held-out loss (text models)
    val_nats_per_char: float | None
    accuracy: dict[int, float]  # recall models: accuracy against the lag k
    horizon_90: int | None  # recall models: largest k with at least 90%
    training_seconds: float
    training_steps: int
    cell_path: Path | None  # the analysis cell and its backward step, when shipped
    cell_sha256: str | None
    back_path: Path | None
    back_sha256: str | None
    task_spec: TaskSpec | None
    tracking_units: tuple[TrackingUnit, ...]
    trained_here: bool = False  # a shipped model (core/train/backend.TrainedInfo: True)

    @property
    def state_names(self) -> tuple[str, ...]:
        return STATE_NAMES[self.arch]


class ModelInfo(Protocol):
    """What every model's `info` says of it, read-only: a shipped model's ModelEntry, or a model trained on the
    Train page (core/train/backend.TrainedInfo)."""

    @property
    def id(self) -> str: ...
    @property
    def arch(self) -> str: ...  # one of ARCHS
    @property
    def task(self) -> str: ...  # one of TASKS
    @property
    def vocab(self) -> Vocab: ...
    @property
    def params(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def layers(self) -> int: ...
    @property
    def test_nats_per_char(self) -> float | None: ...
    @property
    def training_steps(self) -> int: ...
    @property
    def training_seconds(self) -> float: ...
    @property
    def trained_here(self) -> bool: ...  # trained in this session on the Train page: the page marks it so
    @property
    def state_names(self) -> tuple[str, ...]: ...


class LanguageModel(Protocol):
    """What the predict path (core/predict.py, core/step.py), the memory lab and the pages use of a model:
    core.models.Model (onnxruntime) and core.train.backend.TrainedModel (numpy) both have all of it.

    `run(tokens (batch, time), state)` returns `logits` (batch, time, vocab), each state's `<name>_out` as
    (batch, layers, hidden), and `hidden`; a state of None is a fresh start. `stepper` makes the lookahead's
    rows from one state (core/step.py), None where the model has none. `cell` and `back` are the analysis cell
    and its backward step for the memory lab, None with `cell_problem` saying why."""

    info: ModelInfo
    state_names: list[str]
    stepper: object | None
    cell: object | None
    back: object | None
    cell_problem: str

    @property
    def id(self) -> str: ...
    def zero_state(self, batch_size: int = 1) -> dict[str, np.ndarray]: ...
    def run(self, tokens: np.ndarray, state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]: ...


def _fail(entry: str, message: str):
    raise ManifestError(f"{entry}: {message}")


def _int(where: str, raw: dict, key: str, low: int = 0, default=None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(where, f"`{key}` must be a whole number of at least {low}, not {value!r}")
    return value


def _float(where: str, raw: dict, key: str, optional: bool = False) -> float | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        _fail(where, f"`{key}` must be a non-negative number, not {value!r}")
    return float(value)


def _file(where: str, folder: Path, raw: dict, key: str) -> Path:
    """A file named by the entry, which must lie inside the models folder (no absolute paths, no ..)."""
    name = raw.get(key)
    if not isinstance(name, str) or not name.endswith(".onnx"):
        _fail(where, f"`{key}` must name an .onnx file, not {name!r}")
    path = (folder / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(folder.resolve()):
        _fail(where, f"`{key}` {name!r} points outside the models folder")
    return path


def _sha(where: str, raw: dict, key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not SHA256.match(value):
        _fail(where, f"`{key}` must be a sha256 (64 lowercase hex digits), not {value!r}")
    return value


def _feature(raw) -> str:
    raw = str(raw)
    return UNIT_FEATURE_WORDS.get(raw, raw)


def entry_from_dict(raw, folder: Path, position: int) -> ModelEntry:
    """A typed entry, or ManifestError naming the entry and the first thing wrong with it."""
    if not isinstance(raw, dict):
        _fail(f"entry {position}", f"must be an object, not {type(raw).__name__}")
    mid = raw.get("id")
    if not isinstance(mid, str) or not ID.match(mid):
        _fail(f"entry {position}", f"`id` must be letters, digits, '.', '_' or '-', not {mid!r}")
    where = f"model `{mid}`"
    if raw.get("arch") not in ARCHS:
        _fail(where, f"`arch` {raw.get('arch')!r} is not one of {', '.join(ARCHS)}")
    if raw.get("task") not in TASKS:
        _fail(where, f"`task` {raw.get('task')!r} is not one of {', '.join(TASKS)}")
    tokens = raw.get("vocab")
    if not isinstance(tokens, list) or len(tokens) < 2 or not all(isinstance(t, str) for t in tokens):
        _fail(where, "`vocab` must be a list of the unknown token and at least one character")
    if tokens[UNK_ID] != UNK or not all(len(t) == 1 for t in tokens[1:]) or len(set(tokens)) != len(tokens):
        _fail(where, f"`vocab` must be {UNK!r} followed by distinct single characters")
    if raw.get("unk_id", UNK_ID) != UNK_ID or isinstance(raw.get("unk_id"), bool):
        _fail(where, f"`unk_id` must be {UNK_ID}, the position of {UNK!r}, not {raw.get('unk_id')!r}")
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict):
        _fail(where, "`metrics` must be an object")
    training = raw.get("training", {})
    if not isinstance(training, dict):
        _fail(where, "`training` must be an object")
    accuracy, horizon, spec = {}, None, None
    if raw["task"] == "text":
        test, val = _float(where, metrics, "test_nats_per_char"), _float(where, metrics, "val_nats_per_char", True)
    else:
        test = val = None
        curve = metrics.get("accuracy")
        if not isinstance(curve, dict) or not curve:
            _fail(where, "a recall model's `metrics.accuracy` must map lags to accuracies")
        try:
            accuracy = {int(k): float(v) for k, v in curve.items()}
        except (TypeError, ValueError):
            _fail(where, "`metrics.accuracy` must map whole-number lags to accuracies")
        if not all(0 <= v <= 1 for v in accuracy.values()):
            _fail(where, "`metrics.accuracy` values must lie between 0 and 1")
        horizon = _int(where, metrics, "horizon_90")
        spec = raw.get("task_spec")
        fields = ("keys", "distractors", "query")
        if not isinstance(spec, dict) or not all(isinstance(spec.get(f), str) and spec.get(f) for f in fields):
            _fail(where, "a recall model needs `task_spec` with `keys`, `distractors` and `query`")
        spec = TaskSpec(spec["keys"], spec["distractors"], spec["query"])
        missing = set(spec.keys + spec.distractors + spec.query) - set(tokens)
        if missing:
            _fail(where, f"`task_spec` uses characters outside `vocab`: {''.join(sorted(missing))!r}")
    hidden = _int(where, raw, "hidden_size", 1)
    layers = _int(where, raw, "layers", 1, default=1)
    states = raw.get("state", {n: [layers, hidden] for n in STATE_NAMES[raw["arch"]]})
    if states != {n: [layers, hidden] for n in STATE_NAMES[raw["arch"]]}:
        _fail(where, f"`state` {states!r} does not match a `{raw['arch']}` of {layers} x {hidden}")
    cell = back = cell_sha = back_sha = None
    if raw.get("cell_file") is not None or raw.get("back_file") is not None:
        cell, back = _file(where, folder, raw, "cell_file"), _file(where, folder, raw, "back_file")
        cell_sha, back_sha = _sha(where, raw, "cell_sha256"), _sha(where, raw, "back_sha256")
    units = raw.get("tracking_units", [])
    try:
        tracking = tuple(
            TrackingUnit(int(u["unit"]), str(u["signal"]), _feature(u["feature"]), float(u["correlation"]))
            for u in units
        )
    except (TypeError, KeyError, ValueError):
        _fail(where, "`tracking_units` must be a list of {unit, signal, feature, correlation}")
    if not all(u.feature in UNIT_FEATURES for u in tracking):
        _fail(where, f"a tracking unit's `feature` is not one of {', '.join(UNIT_FEATURES)}")
    if not all(0 <= u.unit < hidden and u.signal in STATE_NAMES[raw["arch"]] for u in tracking):
        _fail(where, "a tracking unit lies outside the model's states")
    return ModelEntry(
        id=mid,
        arch=raw["arch"],
        task=raw["task"],
        path=_file(where, folder, raw, "file"),
        sha256=_sha(where, raw, "sha256"),
        vocab=Vocab(tokens, UNK_ID),
        params=_int(where, raw, "params", 1),
        hidden_size=hidden,
        layers=layers,
        embed_size=_int(where, raw, "embed_size", 1) if "embed_size" in raw else None,
        test_nats_per_char=test,
        val_nats_per_char=val,
        accuracy=accuracy,
        horizon_90=horizon,
        training_seconds=_float(where, training, "seconds", True) or 0.0,
        training_steps=_int(where, training, "steps", 0, default=0),
        cell_path=cell,
        cell_sha256=cell_sha,
        back_path=back,
        back_sha256=back_sha,
        task_spec=spec,
        tracking_units=tracking,
    )


def read_manifest(folder: Path) -> tuple[list[ModelEntry], dict[str, str]]:
    """Every valid entry, and a message for each invalid one (by model id, or `entry N` without one).
    A manifest that cannot be read at all raises ManifestError with how to fix it."""
    path = Path(folder) / "manifest.json"
    fix = "retrain with `python -m export.train all`, or point UNROLLED_MODELS_DIR at a models folder"
    if not path.is_file():
        raise ManifestError(f"{path} is missing or not a file: {fix}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path} cannot be read as JSON ({e}): {fix}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
        raise ManifestError(f'{path} must be {{"models": [...]}}: {fix}')
    entries, problems, seen = [], {}, set()
    for position, raw in enumerate(manifest["models"]):
        try:
            entry = entry_from_dict(raw, Path(folder), position)
        except ManifestError as e:
            name = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"entry {position}"
            problems[name] = str(e)
            continue
        if entry.id in seen:
            problems[f"{entry.id} (entry {position})"] = f"model `{entry.id}` appears twice; the first one is used"
            continue
        seen.add(entry.id)
        entries.append(entry)
    return entries, problems
