"""A model's next step for many next characters at once, from one state: what the lookahead asks.

After every keystroke the live page wants each model's guesses after each of the likeliest next keys (16 rows,
core.predict.lookahead), all from the same state. Run as a batch of 16 in the model's own graph, each row
repeats the recurrent product R h, though the 16 rows share h. Here:
- a recurrent model's step is a small graph of its own, built when the model loads from the weights of its
  exported graph (read with onnx's protobuf classes; the file was checked against its sha256): R h once for
  the state, then each row adds its character's input column, and onnxruntime ranks each row's guesses (TopK).
  The LSTM-512's 16 rows took 0.30 ms against 0.86 as a batch in its own graph, and 1.0 against 2.2 ms after
  an 8 ms pause (`python -m bench.keystroke`);
- a model without state (the feed-forward net) reads each character alone, so each next step is a row of one
  table, computed by onnxruntime itself when the model loads.
Either way it is checked against the model's own graph on a probe when the model loads. A graph this module
does not recognise, or a probe that disagrees, leaves the model on its own graph (`make` returns None and
logs why), as are the Train page's numpy models.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core.checks import checked_tokens
from core.errors import ModelFileError
from core.sampling import distributions, ranked

log = logging.getLogger(__name__)

DEFAULT_ACTIVATIONS = {"RNN": [b"Tanh"], "LSTM": [b"Sigmoid", b"Tanh", b"Tanh"]}
TOLERANCE = 1e-4  # of the logits' scale: float32 sums in another order differ by ~1e-6
PROBE_TOP = 5  # guesses compared on the probe


class Table:
    """A model without state: the step after token r is row r of what it gives every token alone."""

    def __init__(self, model):
        tokens = np.arange(len(model.info.vocab), dtype=np.int64)[:, None]
        # (V, 1, V): a model without state gives nothing else a row is read for (its hidden layer is the lab's)
        logits = model.run(tokens)["logits"]
        self.out = {"logits": logits, "probs": distributions(logits[:, 0])}
        self.tops: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # top -> the `top` likeliest after each token

    def __call__(self, state, tokens: np.ndarray, top: int) -> dict[str, np.ndarray]:
        if top not in self.tops:
            self.tops[top] = ranked(self.out["probs"], top)
        ids, p = self.tops[top]
        return {**{name: value[tokens] for name, value in self.out.items()}, "top_ids": ids[tokens], "top_p": p[tokens]}


# -----------------------------------------------------------------------------
# ONNX graphs as protobuf messages


@functools.cache
def onnx_pb():
    """onnx's generated protobuf classes, without the rest of onnx: `import onnx` took 1.3-1.7 s here on
    every start of the server (nearly all of it ml_dtypes, which onnx's helpers import), these alone 0.05 s.
    They are onnx's own file, loaded under another name, so a later `import onnx` is not disturbed."""
    path = Path(importlib.util.find_spec("onnx").origin).parent / "onnx_ml_pb2.py"
    spec = importlib.util.spec_from_file_location("core_step_onnx_ml_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ELEMENT_TYPES = {1: np.float32, 7: np.int64, 11: np.float64}  # TensorProto.FLOAT, INT64, DOUBLE


def node(op: str, inputs: list[str], outputs: list[str], **ints):
    made = onnx_pb().NodeProto(op_type=op, input=inputs, output=outputs)
    for name, value in ints.items():
        made.attribute.add(name=name, i=value, type=onnx_pb().AttributeProto.INT)
    return made


def tensor(name: str, array: np.ndarray):
    element = next(code for code, dtype in ELEMENT_TYPES.items() if array.dtype == dtype)
    array = np.ascontiguousarray(array)
    return onnx_pb().TensorProto(name=name, dims=array.shape, data_type=element, raw_data=array.tobytes())


def value_info(name: str, dtype, shape: list | None = None):
    info = onnx_pb().ValueInfoProto(name=name)
    info.type.tensor_type.elem_type = next(code for code, t in ELEMENT_TYPES.items() if t == dtype)
    for size in shape or []:
        dim = info.type.tensor_type.shape.dim.add()
        if isinstance(size, int):
            dim.dim_value = size
        else:
            dim.dim_param = size
    return info


def array(t) -> np.ndarray:
    """An initializer's values (little-endian raw data, as exporters write them, or the typed fields)."""
    if t.data_type not in ELEMENT_TYPES:
        raise ModelFileError(f"an initializer of element type {t.data_type}")
    dtype = ELEMENT_TYPES[t.data_type]
    if t.raw_data:
        return np.frombuffer(t.raw_data, dtype).reshape(tuple(t.dims)).copy()
    values = t.float_data if dtype == np.float32 else t.int64_data
    return np.array(values, dtype).reshape(tuple(t.dims))


def attribute(a):
    pb = onnx_pb().AttributeProto
    values = {pb.INT: a.i, pb.FLOAT: a.f, pb.STRING: a.s, pb.INTS: list(a.ints), pb.STRINGS: list(a.strings)}
    if a.type not in values:
        raise ModelFileError(f"attribute {a.name} of type {a.type}")
    return values[a.type]


# -----------------------------------------------------------------------------
# the row steps


def pointwise(op: str, H: int) -> list:
    """The nodes from z_x (R, G*H), the rows' input parts, and z_h (1, G*H), the shared R h + Rb, to h_new
    (and c_new), in ONNX's gate order. The shipped models are an RNN and an LSTM; a GRU (which export can
    make) runs its rows as a batch in its own graph."""
    if op == "RNN":
        return [node("Add", ["z_x", "z_h"], ["z"]), node("Tanh", ["z"], ["h_new"])]
    if op == "LSTM":  # input, output, forget, cell
        return [
            node("Add", ["z_x", "z_h"], ["z"]),
            node("Split", ["z", "quarters"], ["z_i", "z_o", "z_f", "z_c"], axis=1),
            *(node("Sigmoid", [f"z_{g}"], [g]) for g in "iof"),
            node("Tanh", ["z_c"], ["g"]),
            node("Mul", ["f", "c"], ["f_c"]),
            node("Mul", ["i", "g"], ["i_g"]),
            node("Add", ["f_c", "i_g"], ["c_new"]),
            node("Tanh", ["c_new"], ["tanh_c"]),
            node("Mul", ["o", "tanh_c"], ["h_new"]),
        ]
    raise ModelFileError(f"no row step for {op}")


class Recurrent:
    """One step of a one-layer ONNX RNN or LSTM node between an embedding and an output projection, as a
    graph of its own whose recurrent product takes the state once (batch 1) and the rows' characters after
    it: built here from the model's weights, run by onnxruntime (its pointwise sigmoid and tanh were 2.5x as
    fast as numpy's: 0.17 ms against 0.43 for the LSTM-512's 16 rows)."""

    def __init__(self, op: str, weights: dict, state_names: list[str]):
        embed, w, r, b = weights["embed"], weights["W"][0], weights["R"][0], weights["B"][0]
        gates, H = w.shape[0], r.shape[1]
        self.op, self.hidden = op, H
        self.tops: dict[int, np.ndarray] = {}  # top as the graph's TopK takes it (its input `k`)
        constants = {
            "x_rows": embed @ w.T + b[:gates],  # (V, G*H): each character's x W^T + Wb
            "r_t": r.T,  # (H, G*H)
            "r_bias": b[gates:],
            "w_out": weights["w_out"],  # (H, V)
            "b_out": weights["b_out"],
        }
        initializers = [tensor(k, np.asarray(v, np.float32)) for k, v in constants.items()]
        if op == "LSTM":  # the gate blocks' sizes, for Split
            initializers.append(tensor("quarters", np.array([H] * 4, np.int64)))
        nodes = [
            node("Gather", ["x_rows", "tokens"], ["z_x"]),
            node("MatMul", ["h", "r_t"], ["h_r"]),
            node("Add", ["h_r", "r_bias"], ["z_h"]),
            *pointwise(op, H),
            node("MatMul", ["h_new", "w_out"], ["projected"]),
            node("Add", ["projected", "b_out"], ["logits"]),
            # each row's distribution, in float64 as core.predict.softmax makes it (the next key's surprisal is
            # read from it: float32 would underflow 100 nats sooner), and the page's top guesses after each row:
            # onnxruntime's TopK took a fifth of the time numpy's argsort and take_along_axis did on 16 x 85
            node("Cast", ["logits"], ["logits64"], to=11),  # TensorProto.DOUBLE
            node("Softmax", ["logits64"], ["probs"], axis=1),
            node("TopK", ["probs", "k"], ["top_p", "top_ids"], axis=1),
        ]
        self.outputs = ["logits", "h_new", "probs", "top_p", "top_ids", *(["c_new"] if op == "LSTM" else [])]
        inputs = [
            value_info("tokens", np.int64, ["rows"]),
            value_info("k", np.int64, [1]),
        ]
        inputs += [value_info(n, np.float32, [1, H]) for n in state_names]
        kinds = {"top_ids": np.int64, "probs": np.float64, "top_p": np.float64}
        outputs = [value_info(n, kinds.get(n, np.float32)) for n in self.outputs]
        pb = onnx_pb()
        graph = pb.GraphProto(
            name=f"{op.lower()}_rows", node=nodes, input=inputs, output=outputs, initializer=initializers
        )
        model = pb.ModelProto(ir_version=8, graph=graph, opset_import=[pb.OperatorSetIdProto(domain="", version=17)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # a few rows: too little to split
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        # the binding's own run, where this onnxruntime has it: InferenceSession.run's Python checks of the feed
        # (which is always this graph's own) were a tenth of the call. Private: tests/test_step.py fails if the
        # pinned onnxruntime drops it, rather than letting every keystroke slow down unseen.
        self.run = getattr(getattr(self.session, "_sess", None), "run", self.session.run)

    def __call__(self, state: dict, tokens: np.ndarray, top: int) -> dict[str, np.ndarray]:
        H, n = self.hidden, len(tokens)
        if top not in self.tops:
            self.tops[top] = np.array([top], np.int64)
        feed = {"tokens": tokens, "k": self.tops[top]}
        feed.update((name, value.reshape(1, H)) for name, value in state.items())
        logits, h_new, probs, top_p, top_ids, *c_new = self.run(self.outputs, feed, None)
        out = {"logits": logits.reshape(n, 1, -1), "h_out": h_new.reshape(n, 1, H)}
        if c_new:
            out["c_out"] = c_new[0].reshape(n, 1, H)
        return {**out, "probs": probs, "top_ids": top_ids, "top_p": top_p}


def graph_weights(path) -> tuple[str, dict]:
    """The recurrent node's kind, its weights and the projections around it, from an exported graph; raises
    ModelFileError on anything but embedding -> one forward RNN or LSTM node with default activations ->
    MatMul -> Add."""
    model = onnx_pb().ModelProto()
    model.ParseFromString(Path(path).read_bytes())
    graph = model.graph
    init = {i.name: array(i) for i in graph.initializer}
    cells = [n for n in graph.node if n.op_type in ("RNN", "LSTM")]
    embeds = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in init]
    projections = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in init]
    biases = [n for n in graph.node if n.op_type == "Add" and any(i in init for i in n.input)]
    if not (len(cells) == len(embeds) == len(projections) == len(biases) == 1):
        raise ModelFileError("not embedding, one recurrent node, projection")
    cell = cells[0]
    attrs = {a.name: attribute(a) for a in cell.attribute}
    unusual = set(attrs) - {"hidden_size", "direction", "activations"}
    if unusual or attrs.get("direction", b"forward") != b"forward":
        raise ModelFileError(f"{cell.op_type} with {sorted(unusual) or 'another direction'}")
    if [a.lower() for a in attrs.get("activations", DEFAULT_ACTIVATIONS[cell.op_type])] != [
        a.lower() for a in DEFAULT_ACTIVATIONS[cell.op_type]
    ]:
        raise ModelFileError(f"{cell.op_type} with activations {attrs['activations']}")
    if len(cell.input) < 4 or any(cell.input[i] not in init for i in (1, 2, 3)):
        raise ModelFileError(f"{cell.op_type} without constant weights and biases")
    if len(cell.input) > 7 and cell.input[7]:
        raise ModelFileError("LSTM with peepholes")
    weights = {
        "embed": init[embeds[0].input[0]],
        "W": init[cell.input[1]],
        "R": init[cell.input[2]],
        "B": init[cell.input[3]],
        "w_out": init[projections[0].input[1]],
        "b_out": init[next(i for i in biases[0].input if i in init)],
    }
    return cell.op_type, weights


def next_steps(model, state: dict | None, tokens: np.ndarray, top: int) -> dict[str, np.ndarray]:
    """One step from `state` (batch 1; None: a fresh start) for each of `tokens` (R,): the outputs of
    model.run(), each (R, 1, ...), each row's distribution `probs` (R, V, float64), and the `top` likeliest
    guesses after each row, `top_ids` and `top_p` (R, top).
    Through the model's row step where it has one (core.models.Model.stepper), else as a batch of R."""
    tokens = checked_tokens(np.asarray(tokens)[:, None], len(model.info.vocab))[:, 0]
    return steps(model, state, tokens, top)


def steps(model, state: dict | None, tokens: np.ndarray, top: int) -> dict[str, np.ndarray]:
    """next_steps() for tokens already checked: int64 (R,), each inside the vocabulary."""
    top = max(1, min(top, len(model.info.vocab)))
    state = state or model.zero_state()
    if model.stepper is not None:  # the Train page's numpy models have none
        return model.stepper(state, tokens, top)
    out = model.run(tokens[:, None], {n: np.repeat(s, len(tokens), axis=0) for n, s in state.items()})
    out["probs"] = distributions(out["logits"][:, 0])
    out["top_ids"], out["top_p"] = ranked(out["probs"], top)
    return out


def make(model):
    """The model's many-rows step, checked against onnxruntime on a probe; None where it cannot be had."""
    try:
        if not model.state_names:
            step = Table(model)
        elif model.info.layers == 1:
            op, weights = graph_weights(model.info.path)
            if op.lower() != model.info.arch:
                raise ModelFileError(f"an ONNX {op} node in a `{model.info.arch}` model")
            step = Recurrent(op, weights, model.state_names)
        else:
            raise ModelFileError(f"{model.info.layers} layers of {model.state_names}")
        probe(model, step)
    except Exception as e:  # onnx's and onnxruntime's own errors too: whatever it is, the model still runs
        log.info("%s: the lookahead stays on onnxruntime (%s)", model.id, e)
        return None
    return step


def probe(model, step) -> None:
    """The step and onnxruntime on one random state and every token must agree, else ModelFileError."""
    vocab = len(model.info.vocab)
    tokens = np.arange(vocab, dtype=np.int64)
    rng = np.random.default_rng(0)
    state = {n: rng.standard_normal((1, *shape)).astype(np.float32) * 0.5 for n, shape in model.state_shapes.items()}
    want = model.run(tokens[:, None], {n: np.repeat(s, vocab, axis=0) for n, s in state.items()})
    got = step(state, tokens, PROBE_TOP)
    want["probs"] = distributions(want["logits"][:, 0])
    want["top_ids"], want["top_p"] = ranked(want["probs"], PROBE_TOP)
    if not np.isin(got["top_ids"], want["top_ids"]).all():  # the same guesses (ties may come in either order)
        raise ModelFileError("its step's top guesses differ from onnxruntime's")
    for name in ("logits", "probs", "top_p", *(f"{n}_out" for n in model.state_names)):
        value = want[name]
        scale = max(1.0, float(np.abs(value).max()))
        if name not in got or got[name].shape != value.shape or np.abs(got[name] - value).max() > TOLERANCE * scale:
            raise ModelFileError(f"its step differs from onnxruntime's in `{name}`")
