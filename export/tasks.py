"""What a model is trained on: batches, validation, and the manifest fields that describe the result.

Two tasks share one training loop (export/train.py):
- `text`, many-to-many: the next character at every position of a corpus, in contiguous streams for
  truncated BPTT;
- `recall`, many-to-one: one key character, k distractors, a query; the answer is the key. Only the answer
  is scored, so the gradient that teaches the model to keep the key must travel back through all k steps.
Every `batch(step)` is a pure function of the step, so a resumed run sees exactly the data it would have.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.contract import Vocab
from core.train.tasks import DISTRACTORS, KEYS, QUERY  # the Train page's recall task is the same one
from export import corpus as corpus_lib

IGNORE = -100  # target that scores nothing (cross_entropy's ignore_index)
CURVE_KS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400, 500, 600, 800, 1000)


# -----------------------------------------------------------------------------
# text: next character everywhere


class Streams:
    """B contiguous streams of the text; step t reads the t-th chunk of T characters of every stream."""

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, seed: int):
        self.ids, self.batch_size, self.seq_len, self.seed = ids, batch_size, seq_len, seed
        self.stream_len = (len(ids) - seq_len - 1) // batch_size
        self.steps_per_epoch = (self.stream_len - 1) // seq_len
        if self.steps_per_epoch < 1:
            raise corpus_lib.CorpusError(
                f"training text too short for batch {batch_size} x {seq_len}: {len(ids)} characters; "
                "try a smaller --batch-size or --seq-len"
            )

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, fresh): fresh means the streams restarted and the carried state must be zeroed."""
        epoch, k = divmod(step, self.steps_per_epoch)
        shift = int(np.random.default_rng([self.seed, epoch]).integers(0, self.seq_len))  # new cut each epoch
        starts = shift + np.arange(self.batch_size) * self.stream_len + k * self.seq_len
        rows = starts[:, None] + np.arange(self.seq_len + 1)  # (B, T+1)
        chunk = torch.from_numpy(self.ids[rows])
        return chunk[:, :-1], chunk[:, 1:], k == 0


@torch.no_grad()
def evaluate(model, ids: np.ndarray, max_streams: int = 32, seq_len: int = 256) -> float:
    """Mean nats per character over `ids`, read as contiguous streams with the state carried along."""
    streams = max(1, min(max_streams, (len(ids) - 1) // seq_len))
    length = (len(ids) - 1) // streams
    x = torch.from_numpy(ids[: streams * length].reshape(streams, length))
    y = torch.from_numpy(ids[1 : streams * length + 1].reshape(streams, length))
    state, total = model.init_state(streams), 0.0
    for t in range(0, length, seq_len):
        logits, state, _ = model(x[:, t : t + seq_len], state)
        chunk_y = y[:, t : t + seq_len].reshape(-1)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk_y, reduction="sum")
    return float(total) / (streams * length)


class TextTask:
    val_metric = "val_nats_per_char"

    def __init__(self, config):
        self.corpus = corpus_lib.load(config.corpus)
        self.vocab = corpus_lib.build_vocab(self.corpus.train)
        encode = Vocab(self.vocab).encode
        ids = encode(self.corpus.train)
        self.streams = Streams(ids, config.batch_size, config.seq_len, config.seed)
        self.val_ids, self.test_ids = encode(self.corpus.val), encode(self.corpus.test)

    def batch(self, step: int):
        return self.streams.batch(step)

    def validate(self, model) -> float:
        return evaluate(model, self.val_ids)

    def describe(self, model) -> dict:
        metrics = {
            "val_nats_per_char": round(evaluate(model, self.val_ids), 4),
            "test_nats_per_char": round(evaluate(model, self.test_ids), 4),
            "val_chars": len(self.corpus.val),
            "test_chars": len(self.corpus.test),
        }
        return {"task": "text", "corpus": self.corpus.source, "metrics": metrics}


# -----------------------------------------------------------------------------
# recall: the key after k distractors


def recall_sequences(rng: np.random.Generator, vocab: list[str], n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """n sequences key, k distractors, query: tokens (n, k + 2) and the key ids (n,)."""
    index = {ch: i for i, ch in enumerate(vocab)}
    keys = np.array([index[c] for c in KEYS])[rng.integers(0, len(KEYS), n)]
    noise = np.array([index[c] for c in DISTRACTORS])[rng.integers(0, len(DISTRACTORS), (n, k))]
    tokens = np.concatenate([keys[:, None], noise, np.full((n, 1), index[QUERY])], axis=1)
    return tokens, keys


@torch.no_grad()
def recall_scores(model, vocab: list[str], k: int, n: int = 500, seed: int = 99) -> tuple[float, float]:
    """(accuracy, nats) over n fresh sequences: the share whose most likely key after the query is the key,
    and the mean cross-entropy of the answer, the one scored character of each sequence."""
    tokens, keys = recall_sequences(np.random.default_rng([seed, k]), vocab, n, k)
    logits, _, _ = model(torch.from_numpy(tokens))
    key_ids = torch.tensor([vocab.index(c) for c in KEYS])
    answer = key_ids[logits[:, -1, key_ids].argmax(-1)]
    nats = F.cross_entropy(logits[:, -1], torch.from_numpy(keys))
    return float((answer == torch.from_numpy(keys)).float().mean()), float(nats)


def recall_accuracy(model, vocab: list[str], k: int, n: int = 500, seed: int = 99) -> float:
    return recall_scores(model, vocab, k, n, seed)[0]


def horizon(curve: dict[int, float], threshold: float = 0.9) -> int:
    """The largest measured k with accuracy at least `threshold`, every shorter k included (0 if none)."""
    best = 0
    for k in sorted(curve):
        if curve[k] < threshold:
            break
        best = k
    return best


class RecallTask:
    val_metric = "val_accuracy"

    def __init__(self, config):
        if config.recall_max_k < 1:
            raise ValueError("a recall model needs recall_max_k >= 1")
        self.config = config
        self.vocab = [corpus_lib.UNK] + sorted(KEYS + DISTRACTORS + QUERY)

    def longest_lag(self, step: int) -> int:
        c = self.config
        if step >= c.curriculum:
            return c.recall_max_k
        return int(10 + (c.recall_max_k - 10) * step / c.curriculum)

    def batch(self, step: int):
        rng = np.random.default_rng([self.config.seed, step])
        longest = self.longest_lag(step)
        if self.config.recall_lags == "log-uniform":  # short lags stay common: see README, "Memory figures"
            k = int(np.exp(rng.uniform(0, np.log(longest + 1))))
        else:
            k = int(rng.integers(1, longest + 1))
        tokens, keys = recall_sequences(rng, self.vocab, self.config.batch_size, k)
        targets = np.full_like(tokens, IGNORE)
        targets[:, -1] = keys  # only the answer after the query is scored: many-to-one
        return torch.from_numpy(tokens), torch.from_numpy(targets), True

    def validate(self, model) -> float:
        return recall_accuracy(model, self.vocab, self.config.recall_max_k, n=256)

    def describe(self, model) -> dict:
        scores = {k: recall_scores(model, self.vocab, k) for k in CURVE_KS}
        curve = {k: round(acc, 4) for k, (acc, _) in scores.items()}
        val_nats = recall_scores(model, self.vocab, self.config.recall_max_k, seed=7)[1]
        spec = {"keys": KEYS, "distractors": DISTRACTORS, "query": QUERY}
        corpus = {
            "name": "generated recall sequences: key, k distractors, query",
            "sha256": None,
            "val_plays": [],
            "test_plays": [f"500 fresh sequences at each k in {list(CURVE_KS)}"],
        }
        metrics = {
            "accuracy": {str(k): v for k, v in curve.items()},
            "horizon_90": horizon(curve),
            # nats per scored character (the answer): at the longest trained lag, and over the whole curve
            "val_nats_per_char": round(val_nats, 4),
            "test_nats_per_char": round(float(np.mean([nats for _, nats in scores.values()])), 4),
            "trained_max_k": self.config.recall_max_k,
            "chance": round(1 / len(KEYS), 4),
        }
        return {"task": "recall", "task_spec": spec, "corpus": corpus, "metrics": metrics}


def make_task(config):
    tasks = {"text": TextTask, "recall": RecallTask}
    if config.task not in tasks:
        raise ValueError(f"unknown task {config.task!r}; valid ones: {', '.join(tasks)}")
    return tasks[config.task](config)
