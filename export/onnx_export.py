"""Write a trained model as one self-contained ONNX file and describe it in models/manifest.json.

The graph follows the model contract the runtime relies on:
    inputs   tokens int64 (batch, time), then each recurrent state `<name>_in` float32 (batch, layers, hidden)
    outputs  logits float32 (batch, time, vocab), each `<name>_out`, and hidden float32 (batch, time, hidden)

torch 2.13's default (dynamo) exporter silently fixes nn.RNN's time axis to the example's length, and
nn.LSTM/nn.GRU with a dynamic time axis fail in onnxruntime at any other length, so the legacy TorchScript
exporter is used here with named dynamic axes; the tests check the result against torch at several lengths
and batch sizes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import onnx
import torch
import torch.nn as nn

from core.contract import NORMALIZATION, UNK_ID, entry_from_dict
from export import corpus as corpus_lib
from export.cells import (
    CELLS,
    BackStep,
    back_input_names,
    back_output_names,
    build_cell,
    input_names,
    output_names,
)
from export.config import TrainConfig, machine
from export.models import count_params
from export.units import tracking_units

OPSET = 17


class ContractWrapper(nn.Module):
    """Flattens (logits, state, hidden) into the graph's positional outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, tokens, *state_in):
        logits, state_out, hidden = self.model(tokens, tuple(state_in) if state_in else None)
        return (logits, *state_out, hidden)


def write_graph(
    module: nn.Module,
    example: tuple,
    path: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict,
    metadata: dict[str, str] | None = None,
) -> None:
    """Export, check with onnx's checker, then move into place: a failure leaves no half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice, and RNN batch-first hints
        torch.onnx.export(
            module,
            example,
            tmp,
            dynamo=False,
            opset_version=OPSET,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
        )
    graph = onnx.load(tmp)
    for key, value in (metadata or {}).items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, tmp)
    os.replace(tmp, path)


def export_onnx(model: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    """The model under the contract: tokens and states in; logits, states and hidden out."""
    model.eval()
    state_names = list(model.state_names)
    inputs = ["tokens"] + [f"{n}_in" for n in state_names]
    outputs = ["logits"] + [f"{n}_out" for n in state_names] + ["hidden"]
    dynamic = {name: {0: "batch", 1: "time"} for name in ("tokens", "logits", "hidden")}
    dynamic.update({name: {0: "batch"} for name in inputs[1:] + outputs[1:-1]})
    example = (torch.zeros(2, 5, dtype=torch.long), *model.init_state(2))
    write_graph(ContractWrapper(model), example, path, inputs, outputs, dynamic, metadata)


def export_cell(model: nn.Module, path: Path, back_path: Path) -> None:
    """The analysis cell (export/cells.py) and its backward step alone, batch dynamic, time fixed at 1."""
    cell = build_cell(model)
    hidden, vocab, batch = model.config.hidden_size, model.config.vocab_size, 2
    state = [torch.zeros(batch, 1, hidden) for _ in cell.state_names]  # none for the feed-forward net
    tokens = torch.zeros(batch, 1, dtype=torch.long)
    with torch.no_grad():
        gates = cell.step(tokens, *state)[-1]
    batch_axis = lambda names: {name: {0: "batch"} for name in names}  # noqa: E731
    inputs, outputs = input_names(cell), output_names(cell)
    write_graph(cell, (tokens, *state), path, inputs, outputs, batch_axis(inputs + outputs))
    inputs, outputs = back_input_names(cell), back_output_names(cell)
    example = (gates, *state, *state, torch.zeros(batch, 1, vocab))
    write_graph(BackStep(cell), example, back_path, inputs, outputs, batch_axis(inputs + outputs))


def write_manifest_entry(out_dir: Path, entry: dict) -> None:
    """Add or replace one model's entry, keeping the others; written atomically, and only if the runtime's
    contract (core/contract.py) accepts it: the writer checks by the same rules the reader does."""
    entry_from_dict(entry, out_dir, 0)
    path = out_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"models": []}
    manifest["models"] = [m for m in manifest["models"] if m["id"] != entry["id"]] + [entry]
    tmp = path.with_name("manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def export_trained(model, task, record: dict, config: TrainConfig, out_dir: Path) -> dict:
    """Measure exactly what ships (float32, as onnxruntime will run it), export it, its training log,
    and its manifest entry."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    described = task.describe(model)
    file = f"{config.id}.onnx"
    export_onnx(model, out_dir / file, {"id": config.id, "arch": config.arch, "vocab": json.dumps(task.vocab)})
    log = {key: [round(v, 5) if isinstance(v, float) else v for v in values] for key, values in record["log"].items()}
    (out_dir / f"{config.id}.train.json").write_text(json.dumps({"id": config.id, "clip": config.clip, **log}) + "\n")
    model_config = record["model_config"]
    entry = {
        "id": config.id,
        "arch": config.arch,
        "task": described.pop("task"),
        "file": file,
        "sha256": corpus_lib.sha256_file(out_dir / file),
        "vocab": task.vocab,
        "unk_id": UNK_ID,
        "params": count_params(model),
        "hidden_size": model_config.hidden_size,
        "embed_size": model_config.embed_size,
        "layers": model_config.layers,
        "state": {name: [model_config.layers, model_config.hidden_size] for name in model.state_names},
        "normalization": NORMALIZATION,
        **described,
        "training": {
            "steps": record["steps"],
            "seconds": record["seconds"],
            "seed": config.seed,
            "clip_norm": config.clip if config.clip > 0 else None,
            "batch_size": config.batch_size,
            "seq_len": config.seq_len,
            "lr": config.lr,
            "bf16_autocast": config.bf16,
            "machine": machine(),
            "config": dataclasses.asdict(config),
            "log_file": f"{config.id}.train.json",
        },
    }
    if config.arch in CELLS and (model_config.layers == 1 or config.arch == "ff"):
        entry["cell_file"], entry["back_file"] = f"{config.id}.cell.onnx", f"{config.id}.back.onnx"
        export_cell(model, out_dir / entry["cell_file"], out_dir / entry["back_file"])
        entry["cell_sha256"] = corpus_lib.sha256_file(out_dir / entry["cell_file"])
        entry["back_sha256"] = corpus_lib.sha256_file(out_dir / entry["back_file"])
        if entry["task"] == "text" and config.arch != "ff":
            held_out = task.corpus.val + "\n\n" + task.corpus.test  # Macbeth brings the only double quotes
            entry["tracking_units"] = tracking_units(model, held_out, task.vocab)
    write_manifest_entry(out_dir, entry)
    return entry
