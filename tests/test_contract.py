"""core/contract.py is the one registry of the model contract: nothing else may spell it.

The scan reads every module of the app, the exporter and the benchmarks as a syntax tree and fails on:
- a literal list of architectures (a tuple, list, set or dict keys made only of architecture names);
- a literal list of state names, such as ("h", "c");
- a gate found by position: `gates[:, 0]`, or pre-activations split with a literal `.chunk(4, ...)`;
- an `unk_id` spelled as a number, or the normalisation described in words;
- a unit feature named by its English words instead of its id.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import contract

ROOT = Path(__file__).resolve().parent.parent
SCANNED = sorted(
    p
    for p in [*ROOT.glob("*.py"), *(ROOT / "core").rglob("*.py"), *(ROOT / "export").rglob("*.py")]
    + [*(ROOT / "ui").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    if p != ROOT / "core" / "contract.py"
)
# Tables that are allowed to be keyed by architecture names, and why.
ALLOWED = {
    ("export/train.py", "PRESETS"): "training presets named after the model they train; each names its arch itself",
}
STATES = {name for names in contract.STATE_NAMES.values() for name in names}


def constants(nodes) -> list | None:
    """The string constants of a literal collection's elements, or None if any element is something else."""
    values = [n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else None for n in nodes]
    return None if not values or None in values else values


def violations(source: str, where: str = "<snippet>") -> list[str]:
    tree = ast.parse(source)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and (where, target.id) in ALLOWED:
                    skip.update(id(n) for n in ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        elements = None
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elements = constants(node.elts)
        elif isinstance(node, ast.Dict):
            elements = constants(node.keys)
        if elements and len(elements) >= 2 and all(e in contract.ARCHITECTURES for e in elements):
            found.append(f"{line}: a list of architectures {elements}; use core.contract.ARCHS")
        if isinstance(node, (ast.Tuple, ast.List)) and elements and all(e in STATES for e in elements):
            found.append(f"{line}: state names {elements}; use core.contract.STATE_NAMES")
        if isinstance(node, ast.Subscript) and _names_gates(node.value):
            index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(i, ast.Constant) and isinstance(i.value, int) for i in index):
                found.append(f"{line}: a gate read by position; use core.contract.gate_index or by_gate")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "chunk":
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append(f"{line}: gate blocks split by a literal count; use core.contract.GATE_NAMES")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "unk_id" and isinstance(value, ast.Constant):
                    found.append(f"{line}: unk_id spelled as {value.value!r}; use core.contract.UNK_ID")
        if isinstance(node, ast.keyword) and node.arg == "unk_id" and isinstance(node.value, ast.Constant):
            found.append(f"{line}: unk_id spelled as {node.value.value!r}; use core.contract.UNK_ID")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in contract.UNIT_FEATURE_WORDS:
                found.append(f"{line}: the unit feature {node.value!r} in words; use its id in UNIT_FEATURES")
            if "outside vocab become" in node.value:
                found.append(f"{line}: the normalisation described again; use core.contract.NORMALIZATION")
    return found


def _names_gates(node) -> bool:
    return (isinstance(node, ast.Name) and node.id == "gates") or (
        isinstance(node, ast.Attribute) and node.attr == "gates"
    )


def test_no_module_spells_the_contract():
    assert len(SCANNED) > 30  # the whole app, not an empty glob
    found = []
    for path in SCANNED:
        where = path.relative_to(ROOT).as_posix()
        found += violations(path.read_text(encoding="utf-8"), where)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        'ORDER = {"ff": 0, "rnn": 1, "gru": 2, "lstm": 3}',
        'for arch in ("rnn", "lstm"): pass',
        'state_names = ("h", "c")',
        'state_names = ["h"]',
        "i, f = gates[:, 0], gates[:, 1]",
        "forget = trace.gates[t, 1]",
        "i, f, g, o = a.chunk(4, dim=-1)",
        'entry = {"unk_id": 0}',
        "vocab = Vocab(tokens, unk_id=0)",
        "label = FEATURES['inside \"quotes\"']",
        'NOTE = "NFC; characters outside vocab become <unk>"',
    ],
)
def test_the_scan_catches_each_spelling(snippet):
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "i = gates[:, gate_index('lstm', 'input')]",
        "named = by_gate(arch, gates.transpose(1, 0, 2))",
        'if arch == "lstm": pass',
        'entry = {"unk_id": UNK_ID}',
        "a = split('lstm', x)",
    ],
)
def test_the_scan_passes_the_registry_s_own_forms(snippet):
    assert violations(snippet) == []


def test_the_registry_is_consistent():
    assert contract.ARCHS == tuple(contract.ARCHITECTURES)
    for arch in contract.ARCHS:
        assert contract.GATE_NAMES[arch], arch
        assert len(set(contract.GATE_NAMES[arch])) == len(contract.GATE_NAMES[arch])
        assert contract.display_rank(arch) == contract.ARCHS.index(arch)
        blocks = list(range(len(contract.GATE_NAMES[arch])))
        assert contract.in_gate_order(arch, contract.by_gate(arch, blocks)) == blocks
    assert contract.display_rank("transformer") == len(contract.ARCHS)  # unknown ones sort last
    assert set(contract.UNIT_FEATURE_WORDS.values()) == set(contract.UNIT_FEATURES)
    with pytest.raises(ValueError, match="4 gates, not 3"):
        contract.by_gate("lstm", [1, 2, 3])


def test_old_feature_words_in_a_manifest_read_as_ids(tmp_path):
    """The committed manifest stores English words; they read as ids without a re-export."""
    import json

    from core.models import models_dir

    manifest = json.loads((models_dir() / "manifest.json").read_text(encoding="utf-8"))
    raws = [m for m in manifest["models"] if m.get("tracking_units")]
    assert raws, "a shipped model records tracking units"
    entries, problems = contract.read_manifest(models_dir())
    assert not problems
    for entry in entries:
        assert all(u.feature in contract.UNIT_FEATURES for u in entry.tracking_units), entry.id
    raw = dict(raws[0], tracking_units=[dict(raws[0]["tracking_units"][0], feature="sarcasm")])
    with pytest.raises(contract.ManifestError, match="not one of newline, position, stage, quotes"):
        contract.entry_from_dict(raw, models_dir(), 0)
