"""Load the models the manifest describes and run them through onnxruntime under the model contract
(core/contract.py). Each graph is checked against its manifest entry when it loads: a fault switches off that
model, or only its analysis cell, with a message that names the model and the reason."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core import step
from core.checks import checked_tokens
from core.contract import GATE_NAMES, ModelEntry, read_manifest, sha256_file
from core.errors import ModelFileError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models"
L2_BYTES = 2 * 2**20  # per core, on the 2-core machines this was measured on
SMALL_RUN = 16  # tokens (batch x time) that go to a large model's one-thread session: a keystroke, the lookahead


def models_dir() -> Path:
    """The shipped models, unless UNROLLED_MODELS_DIR points elsewhere (a learner's retrained set, tests)."""
    return Path(os.environ.get("UNROLLED_MODELS_DIR") or SHIPPED_DIR)


def open_session(path: Path, sha256: str, model_id: str) -> ort.InferenceSession:
    """A CPU session for a file checked against its sha256 (see _session for how it runs)."""
    if not path.is_file():
        raise ModelFileError(f"{model_id}: {path.name} is missing")
    if sha256_file(path) != sha256:
        raise ModelFileError(f"{model_id}: {path.name} does not match its sha256 in the manifest")
    return _session(path, model_id)


def _session(path: Path, model_id: str, threads: int | None = None) -> ort.InferenceSession:
    """Without thread spinning and without the memory arena that would keep what the largest input ever took
    (102 MB -> 417 MB after one 50k-character input with the arena; 102 MB without). `threads` defaults to
    what the graph's size calls for."""
    options = ort.SessionOptions()
    # One thread is fastest for small graphs (a step of a small cell: ~22 us against ~48 us with more). A graph
    # whose weights exceed one core's 2 MB L2 is bandwidth-bound at one thread, and two each keep half the
    # weights in cache: the LSTM-512 reads 500 characters in 38 ms with two, 93 ms with one.
    options.intra_op_num_threads = threads or (2 if path.stat().st_size > L2_BYTES else 1)
    options.inter_op_num_threads = 1
    # Idle worker threads spin by default, burning a core after every run: one keystroke of three models took
    # 38 ms of CPU spinning and 3.4 ms not, in the same 3.2 ms of wall time. Spinning pays only for long reads.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors on a corrupt file
        raise ModelFileError(f"{model_id}: {path.name} could not be loaded: {e}") from None


def check_io(entry: ModelEntry, session: ort.InferenceSession) -> None:
    """The graph's inputs, outputs and state shapes must be the ones its entry promises."""
    inputs = {"tokens", *(f"{n}_in" for n in entry.state_names)}
    outputs = {"logits", *(f"{n}_out" for n in entry.state_names)}
    have_in = {i.name: i.shape for i in session.get_inputs()}
    have_out = {o.name for o in session.get_outputs()}
    if set(have_in) != inputs or outputs - have_out:
        raise ModelFileError(
            f"{entry.id}: {entry.path.name} takes {sorted(have_in)} and gives {sorted(have_out)}, but a "
            f"`{entry.arch}` graph takes {sorted(inputs)}: is it another model's file?"
        )
    for name in entry.state_names:
        shape = have_in[f"{name}_in"][1:]  # (layers, hidden) after the batch axis
        if [d for d in shape if isinstance(d, int)] != [entry.layers, entry.hidden_size][-len(shape) :]:
            raise ModelFileError(
                f"{entry.id}: its `{name}` state is {shape}, but the manifest says {entry.layers} x {entry.hidden_size}"
            )


@functools.lru_cache(maxsize=64)  # a few sessions per model; the bound keeps reloaded models from piling up
def io_names(session) -> tuple[frozenset[str], tuple[str, ...]]:
    """A session's input and output names, asked once: asking costs more than a small step's run."""
    return frozenset(i.name for i in session.get_inputs()), tuple(o.name for o in session.get_outputs())


def run_graph(session, feed: dict) -> dict[str, np.ndarray]:
    """Run with the inputs the graph has (the exporter drops the ones a step never reads), outputs by name."""
    inputs, outputs = io_names(session)
    values = session.run(None, {k: v for k, v in feed.items() if k in inputs})
    return dict(zip(outputs, values, strict=True))


class Model:
    """One shared InferenceSession (thread-safe) for the model, and one for its analysis cell if it ships one."""

    def __init__(self, entry: ModelEntry):
        self.info = entry
        self.state_names = list(entry.state_names)
        self.session = open_session(entry.path, entry.sha256, entry.id)
        check_io(entry, self.session)
        # Keystrokes run a step or a few (one character, the lookahead's rows): on two threads each run wakes a
        # second thread for too little work. Under 30 typing sessions the LSTM on two threads cost 4.8 ms of
        # server CPU per keystroke and 3.8 ms on one; at 100 sessions p95 186 ms against 21 ms
        # (`python -m bench.load --sessions 30 100 --path fast`). So small inputs get a one-thread session;
        # reads of 32-character chunks keep two (a 1,000-character paste: 85 ms on two, 107 ms on one).
        self.small = self.session
        if self.session.get_session_options().intra_op_num_threads > 1:
            self.small = _session(entry.path, entry.id, threads=1)  # the file was checked a moment ago
        written = self.session.get_modelmeta().custom_metadata_map.get("vocab")  # export writes it into the graph
        if written is not None and json.loads(written) != entry.vocab.tokens:
            raise ModelFileError(f"{entry.id}: the graph was trained on another vocabulary than its entry's `vocab`")
        self.state_shapes = {n: [entry.layers, entry.hidden_size] for n in self.state_names}
        self.output_names = [o.name for o in self.session.get_outputs()]
        probe = self.run(np.zeros((1, 1), np.int64))["logits"]
        if probe.shape[-1] != len(entry.vocab):
            raise ModelFileError(
                f"{entry.id}: the graph scores {probe.shape[-1]} tokens, but its `vocab` has {len(entry.vocab)}"
            )
        self.stepper = step.make(self)  # the lookahead's rows from one state (core/step.py), or None
        self.cell = self.back = None
        self.cell_problem = "this model ships no analysis cell"
        if entry.cell_path is not None:
            try:
                self.cell, self.back = self._open_cells()
            except ModelFileError as e:
                self.cell_problem = str(e)

    def _open_cells(self):
        """The analysis cell and backward step, each run once on a zero state to check it fits this model."""
        entry = self.info
        cell = open_session(entry.cell_path, entry.cell_sha256, entry.id)
        back = open_session(entry.back_path, entry.back_sha256, entry.id)
        zeros = np.zeros((1, 1, entry.hidden_size), np.float32)
        feed = {"tokens": np.zeros((1, 1), np.int64), "glogits_in": np.zeros((1, 1, len(entry.vocab)), np.float32)}
        for n in self.state_names:
            feed[f"{n}_in"] = feed[f"g{n}_in"] = zeros
        try:
            gates = run_graph(cell, feed)["gates"]
            back_out = run_graph(back, {**feed, "gates": gates})
        except Exception as e:  # onnxruntime's InvalidArgument, or a missing output, on another model's cell
            raise ModelFileError(f"{entry.id}: its analysis cell does not fit the model ({type(e).__name__})") from None
        if gates.shape[1:] != (len(GATE_NAMES[entry.arch]), entry.hidden_size) or "gx_out" not in back_out:
            raise ModelFileError(
                f"{entry.id}: its analysis cell gives gates of shape {gates.shape[1:]}, not "
                f"({len(GATE_NAMES[entry.arch])}, {entry.hidden_size}) for a `{entry.arch}` of this size"
            )
        return cell, back

    @property
    def id(self) -> str:
        return self.info.id

    def zero_state(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        return {n: np.zeros([batch_size, *shape], dtype=np.float32) for n, shape in self.state_shapes.items()}

    def run(self, tokens: np.ndarray, state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """All outputs by name for tokens (batch, time); state None means a fresh start."""
        tokens = checked_tokens(tokens, len(self.info.vocab))
        feed = {"tokens": tokens}
        for name, value in (state or self.zero_state(tokens.shape[0])).items():
            feed[f"{name}_in"] = np.asarray(value, dtype=np.float32)
        if tokens.shape[1] == 0:  # an empty text changes nothing; onnxruntime would return a zero-state guess
            return {
                "logits": np.zeros((tokens.shape[0], 0, len(self.info.vocab)), np.float32),
                **{f"{n}_out": feed[f"{n}_in"] for n in self.state_names},
            }
        session = self.small if tokens.size <= SMALL_RUN else self.session
        try:
            values = session.run(None, feed)
        except Exception as e:  # InvalidArgument and friends do not derive from ValueError
            raise ModelFileError(f"{self.id}: the graph failed to run: {e}") from None
        return dict(zip(self.output_names, values, strict=True))


def load_models(folder: Path | None = None, task: str | None = "text") -> tuple[dict[str, Model], dict[str, str]]:
    """Every usable model of `task` by id, and a message for each one that could not be loaded (by model id).
    Raises ManifestError only when the manifest itself cannot be read."""
    entries, problems = read_manifest(Path(folder or models_dir()))
    models = {}
    for entry in entries:
        if task is not None and entry.task != task:
            continue
        try:
            models[entry.id] = Model(entry)
        except ModelFileError as e:
            problems[entry.id] = str(e)
    if task is not None:  # a broken entry of the other task is that page's business
        problems = {k: v for k, v in problems.items() if not any(e.id == k and e.task != task for e in entries)}
    return models, problems
