"""The long-range recall experiment at run time: build a sequence from a model's task_spec and ask it.

A sequence is one key character, k distractors, then the query; the right answer after the query is the
key (export/tasks.py trains on exactly this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import SEED_MAX, integer
from core.errors import InputError
from core.models import Model
from core.predict import softmax

# The longest lag core builds (and the lab offers): five times the longest measured at export (1,000). One ask at
# 5,000 takes 14-16 ms per shipped recall model here (recall.ask on each model, averaged over 5 asks).
MAX_K = 5000


@dataclass(frozen=True)
class Answer:
    sequence: str  # what the model read
    answer: str  # its most likely key after the query
    confidence: float  # its probability for that answer
    key_probs: dict[str, float]  # its probability for every key


def spec(model: Model) -> dict[str, str]:
    task_spec = model.info.task_spec
    if task_spec is None:
        raise InputError(f"{model.id} is not a recall model (its manifest entry has no task_spec)")
    return {"keys": task_spec.keys, "distractors": task_spec.distractors, "query": task_spec.query}


def sequence(model: Model, key: str, k: int, seed: int = 0) -> str:
    s = spec(model)
    if not isinstance(key, str) or len(key) != 1 or key not in s["keys"]:  # one key, not a substring of them
        raise InputError(f"the key must be one of {', '.join(s['keys'])}, not {key!r}")
    k = integer("k", k, 0, MAX_K)
    noise = np.random.default_rng(integer("seed", seed, 0, SEED_MAX)).integers(0, len(s["distractors"]), k)
    return key + "".join(s["distractors"][i] for i in noise) + s["query"]


def ask(model: Model, key: str, k: int, seed: int = 0) -> Answer:
    text = sequence(model, key, k, seed)
    out = model.run(model.info.vocab.encode(text)[None])
    probs = softmax(out["logits"][0, -1])
    keys = spec(model)["keys"]
    key_probs = {c: float(probs[model.info.vocab.encode(c)[0]]) for c in keys}
    answer = max(key_probs, key=key_probs.get)
    return Answer(text, answer, key_probs[answer], key_probs)


def curve(model: Model) -> dict[int, float]:
    """The accuracy against k measured at export (500 fresh sequences per k)."""
    return dict(model.info.accuracy)
