"""Read the manifest, check each file, and run models through onnxruntime under the model contract.

Contract (export/onnx_export.py writes it): input `tokens` int64 (batch, time); every other input is
float32 recurrent state `<name>_in`, zeros meaning a fresh start, returned updated as `<name>_out`;
output `logits` float32 (batch, time, vocab) before softmax.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core.errors import InputError, ManifestError, ModelFileError
from core.text import Vocab

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models"
REQUIRED = ("id", "arch", "task", "file", "sha256", "vocab", "unk_id", "params", "hidden_size", "metrics")
ARCHS = ("ff", "rnn", "lstm", "gru")
L2_BYTES = 2 * 2**20  # per core, on the 2-core machines this was measured on


@dataclass(frozen=True)
class ModelInfo:
    id: str  # unique name, also the file stem
    arch: str  # ff | rnn | lstm | gru
    task: str  # "text" (next character) or "recall" (the long-range recall experiment)
    path: Path  # the ONNX file
    sha256: str  # of the ONNX file, checked before loading
    vocab: Vocab  # tokens and the unknown id
    params: int  # trainable parameters
    hidden_size: int  # width of the recurrent state
    entry: dict = field(repr=False)  # the whole manifest entry: metrics, training facts, corpus


def models_dir() -> Path:
    """The shipped models, unless UNROLLED_MODELS_DIR points elsewhere (a learner's retrained set, tests)."""
    return Path(os.environ.get("UNROLLED_MODELS_DIR") or SHIPPED_DIR)


def read_manifest(folder: Path | None = None) -> list[ModelInfo]:
    folder = Path(folder or models_dir())
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} not found: train models with `python -m export.train all`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
        raise ManifestError(f'{path} must be {{"models": [...]}}')
    infos = []
    for i, entry in enumerate(manifest["models"]):
        missing = [key for key in REQUIRED if key not in entry] if isinstance(entry, dict) else list(REQUIRED)
        if missing:
            raise ManifestError(f"{path}: entry {i} lacks {', '.join(missing)}")
        if entry["arch"] not in ARCHS:
            raise ManifestError(f"{path}: {entry['id']} has arch {entry['arch']!r}; valid ones: {', '.join(ARCHS)}")
        try:
            vocab = Vocab(entry["vocab"], entry["unk_id"])
        except InputError as e:
            raise ManifestError(f"{path}: {entry['id']}: {e}") from None
        infos.append(
            ModelInfo(
                entry["id"],
                entry["arch"],
                entry["task"],
                folder / entry["file"],
                entry["sha256"],
                vocab,
                entry["params"],
                entry["hidden_size"],
                entry,
            )
        )
    return infos


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_session(path: Path, sha256: str | None, model_id: str) -> ort.InferenceSession:
    """A checked CPU session, without thread spinning and without the memory arena that would keep what the
    largest input ever took (shared/FACTS.md)."""
    if not path.is_file():
        raise ModelFileError(f"{model_id}: {path.name} is missing")
    if sha256_file(path) != sha256:
        raise ModelFileError(f"{model_id}: {path.name} does not match its sha256 in the manifest")
    options = ort.SessionOptions()
    # One thread is fastest for small graphs (a step of a small cell: ~22 us vs ~48 us with more). A graph
    # whose weights exceed one core's 2 MB L2 is bandwidth-bound at one thread: the LSTM-512 read 500
    # characters in 93 ms with one thread and 38 ms with two, each core keeping half the weights in cache.
    options.intra_op_num_threads = 2 if path.stat().st_size > L2_BYTES else 1
    options.inter_op_num_threads = 1
    # Idle worker threads spin by default, burning a core after every run: one keystroke (an appended character
    # and the lookahead, three models) took 38 ms of CPU with spinning and 3.4 ms without, for 3.2 ms of wall
    # time either way. Spinning only pays for long fused reads (504 characters: 17 ms spinning, 24 ms not),
    # and the memory lab's graphs, called in turn hundreds of times, starved each other on 2 cores while
    # spinning (216 ms vs 96 ms).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors on a corrupt file
        raise ModelFileError(f"{model_id}: {path.name} could not be loaded: {e}") from None


class Model:
    """One shared InferenceSession (thread-safe) for the model, and one for its analysis cell if it ships one."""

    def __init__(self, info: ModelInfo):
        self.info = info
        self.session = open_session(info.path, info.sha256, info.id)
        self.cell = self.back = None
        self.cell_problem = "this model ships no analysis cell"
        if info.entry.get("cell_file") and info.entry.get("back_file"):
            try:
                folder = info.path.parent
                entry = info.entry
                self.cell = open_session(folder / entry["cell_file"], entry.get("cell_sha256"), info.id)
                self.back = open_session(folder / entry["back_file"], entry.get("back_sha256"), info.id)
            except ModelFileError as e:
                self.cell = self.back = None
                self.cell_problem = str(e)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if "tokens" not in inputs or "logits" not in outputs:
            raise ModelFileError(f"{info.id}: the graph needs a `tokens` input and a `logits` output")
        self.state_names = [name[: -len("_in")] for name in inputs if name != "tokens"]
        bad = [n for n in self.state_names if not (f"{n}_in" in inputs and f"{n}_out" in outputs)]
        if bad:
            raise ModelFileError(f"{info.id}: state inputs {bad} need matching `_out` outputs")
        self.state_shapes = {n: [d for d in inputs[f"{n}_in"].shape[1:]] for n in self.state_names}
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def id(self) -> str:
        return self.info.id

    def zero_state(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        return {n: np.zeros([batch_size, *shape], dtype=np.float32) for n, shape in self.state_shapes.items()}

    def run(self, tokens: np.ndarray, state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """All outputs by name for tokens (batch, time); state None means a fresh start."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.dtype != np.int64:
            raise InputError(f"tokens must be int64 (batch, time), got {tokens.dtype} {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= len(self.info.vocab)):
            raise InputError(f"token ids must lie in 0..{len(self.info.vocab) - 1}")
        feed = {"tokens": tokens}
        for name, value in (state or self.zero_state(tokens.shape[0])).items():
            feed[f"{name}_in"] = np.asarray(value, dtype=np.float32)
        if tokens.shape[1] == 0:  # an empty text changes nothing; onnxruntime would return a zero-state guess
            return {
                "logits": np.zeros((tokens.shape[0], 0, len(self.info.vocab)), np.float32),
                **{f"{n}_out": feed[f"{n}_in"] for n in self.state_names},
            }
        try:
            values = self.session.run(None, feed)
        except Exception as e:  # InvalidArgument and friends do not derive from ValueError
            raise InputError(f"{self.id}: {e}") from None
        return dict(zip(self.output_names, values, strict=True))


def load_models(folder: Path | None = None, task: str | None = "text") -> tuple[dict[str, Model], dict[str, str]]:
    """Every usable model of `task` by id, and a message for each one that could not be loaded."""
    models, problems = {}, {}
    for info in read_manifest(folder):
        if task is not None and info.task != task:
            continue
        try:
            models[info.id] = Model(info)
        except ModelFileError as e:
            problems[info.id] = str(e)
    return models, problems
