"""The main page's live loop: two custom components (Streamlit components v2) drawn from compact JSON.

`live` owns the text box and draws every model's top guesses, surprisal strip and unrolled network. With each
reply the server also sends, per model, the top guesses after every possible next character (one batched
step, `core.predict.lookahead`), so the page shows a keystroke's predictions the moment the key lands; the
server's rerun then confirms them. `writer` shows each model's continuation of the text, only while that is
still the text in the box, and asks for a new one when typing pauses.

Why components and not Altair and Graphviz: building and validating the Altair charts took ~310 ms of server
CPU per keystroke and the browser ~300 ms more to draw six Vega charts and three Graphviz graphs (profiled
with cProfile, py-spy and Chromium's tracing); these payloads take a few milliseconds to build and
a frame to draw. The fields of both directions are in ui/protocol.py. User text only ever reaches the page
through `textContent` in ui/web/*.js, never as HTML.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.contract import UNK, LanguageModel
from core.predict import Reading, lookahead, surprisal
from core.text import VISIBLE
from ui import i18n, protocol
from ui.assets import script, styles
from ui.i18n import strings, t
from ui.protocol import AHEAD_ROWS, TOP_K, UNROLLED_STEPS, WRITER_PAUSE_MS, Card, Reply, Static, Steps, View, Writer

LIVE_STRINGS = (  # drawn by ui/web/live.js; {placeholders} are filled in there
    "live.surprise_title",
    "live.surprise_caption",
    "live.legend_low",
    "live.legend_high",
    "live.unrolled_title",
    "live.mean_bits",
    "live.type_two",
    "live.first_char",
    "live.cell_bits",
    "live.type_prompt",
    "live.cut",
    "live.unknown",
    "live.bars_aria",
    "live.net_aria_recurrent",
    "live.net_aria_ff",
    "live.strip_aria",
    "error.unreadable",
)

live_component = st.components.v2.component("unrolled_live", js=script("live.js"), css=styles("live.css"))
writer_component = st.components.v2.component("unrolled_writer", js=script("writer.js"), css=styles("live.css"))


def rounded(values: np.ndarray, digits: int = 4) -> list:
    """Plain floats for JSON (a list, or lists of lists), NaN and infinities as null (JSON has neither)."""
    values = np.round(np.asarray(values, dtype=np.float64), digits)
    out = values.tolist()
    # one sum says whether all are finite (these values are far from overflowing it): a reply makes a dozen
    # of these calls, and each numpy call counts there
    return out if math.isfinite(values.sum()) else nulls(out)


def nulls(values: list) -> list:
    return [nulls(v) if isinstance(v, list) else v if math.isfinite(v) else None for v in values]


def strip(reading: Reading) -> list:
    """The surprisal strip's cells: null for the first character (never predicted), the rest finite."""
    return [None, *rounded(reading.bits[1:], 3)] if len(reading.bits) else []


def unrolled_steps(reading: Reading, steps: int = UNROLLED_STEPS) -> Steps:
    """The last `steps` characters read, each with the model's top guess after it."""
    start = max(0, len(reading.text) - steps)
    return {
        "chars": list(reading.text[start:]),
        "guess": reading.guesses[start:].tolist(),
        "p": np.round(reading.guess_p[start:], 4).tolist(),
    }


def likely_next(models: dict[str, LanguageModel], probs: dict[str, np.ndarray], n: int = AHEAD_ROWS) -> list[str]:
    """The n characters the models together find likeliest next (summed probability; the unknown token is
    never one): the keys the lookahead covers. Models with the same vocabulary (the shipped ones) are summed
    as arrays, and only the union of vocabularies goes through Python."""
    by_vocab: dict[tuple, np.ndarray] = {}
    for mid, model in models.items():
        tokens = tuple(model.info.vocab.tokens)
        by_vocab[tokens] = by_vocab[tokens] + probs[mid] if tokens in by_vocab else probs[mid]
    if len(by_vocab) == 1:
        ((tokens, summed),) = by_vocab.items()
        order = np.argsort(-summed, kind="stable")
        return [tokens[i] for i in order[: n + 1].tolist() if tokens[i] != UNK][:n]
    score: dict[str, float] = {}
    for tokens, summed in by_vocab.items():
        for token, p in zip(tokens, summed.tolist(), strict=True):
            score[token] = score.get(token, 0.0) + p
    score.pop(UNK, None)
    return sorted(score, key=score.__getitem__, reverse=True)[:n]


def model_view(model: LanguageModel, reading: Reading, probs: np.ndarray, keys: list[str]) -> View:
    """What the page draws for one model after one text (`probs` is its next-character distribution), plus
    what it needs to draw the next keystroke alone when that key is one of `keys` (none: every key waits for
    the server)."""
    top_ids, top_p = reading.likeliest(TOP_K)
    vocab = model.info.vocab
    rows = sorted({vocab.index.get(ch, vocab.unk_id) for ch in keys})  # a character it never saw reads as <unk>
    ahead: dict = {"keys": [], "bits": [], "ids": [], "p": []}
    if rows:
        tokens = np.array(rows)
        ahead_ids, ahead_p = lookahead(model, reading, TOP_K, tokens)
        # rounded in numpy: Python's round(x, n) formats and parses each number (63 of them took about 6% of a
        # reply's CPU instructions, callgrind on the server's worker thread)
        bits = rounded(surprisal(probs[tokens]), 3)
        ahead = {"keys": rows, "bits": bits, "ids": ahead_ids.tolist(), "p": rounded(ahead_p, 3)}
    return {
        "top": {"ids": top_ids.tolist(), "p": rounded(top_p, 4)},
        "ahead": ahead,
        "bits": strip(reading),
        "steps": unrolled_steps(reading),
    }


def model_card(model: LanguageModel, name: str) -> Card:
    entry = model.info
    return {
        "id": model.id,
        "name": name,
        "arch": model.info.arch,
        "hidden_size": model.info.hidden_size,
        "recurrent": bool(model.state_names),
        "vocab": model.info.vocab.tokens,  # so the page can map a typed key to this model's lookahead row
        "unk_id": model.info.vocab.unk_id,
        "kind": t("live.card_kind", arch=model.info.arch, hidden=model.info.hidden_size),
        "facts": t(
            "live.card_facts",
            params=f"{model.info.params:,}",
            loss=f"{entry.test_nats_per_char:.3f}",
            minutes=f"{entry.training_seconds / 60:.1f}",
            steps=f"{entry.training_steps:,}",
        ),
    }


def unknown_chars(models: dict[str, LanguageModel], text: str) -> list[str]:
    """The characters of `text` that no model's vocabulary holds: one set difference, instead of a Python
    test of each distinct character against each model on every reply."""
    return sorted(set(text).difference(*(m.info.vocab.index for m in models.values())))


def static_key(models: dict[str, LanguageModel]) -> str:
    return i18n.lang() + ":" + ",".join(models)


def views(models: dict[str, LanguageModel], reads: dict[str, Reading], ahead: bool = True) -> dict[str, View]:
    # the readings' own distributions (read, never written here): a copy for each was one more numpy call
    probs = {mid: reading.probs for mid, reading in reads.items()}
    keys = likely_next(models, probs) if ahead else []
    return {mid: model_view(model, reads[mid], probs[mid], keys) for mid, model in models.items()}


def reply(
    models: dict[str, LanguageModel], reads: dict[str, Reading], text: str, seq: int, cut: bool, ahead: bool = True
) -> Reply:
    """What changes with the text: the same for the rerun path and the fast path (ui/fast.py), and free of the
    page's language, so the fast path needs no Streamlit session to build it."""
    return {
        "seq": seq,
        "text": text,
        "cut": cut,
        "unknown": unknown_chars(models, text),
        "views": views(models, reads, ahead) if text else {},
    }


def static_parts(models: dict[str, LanguageModel], names: dict[str, str], token: str) -> Static:
    """What does not change while typing: cards, vocabularies, words and the protocol's constants."""
    return {
        "label": t("live.label"),
        "strings": strings(*LIVE_STRINGS),
        "visible": VISIBLE,
        "protocol": protocol.constants(),
        "models": [model_card(model, names[mid]) for mid, model in models.items()],
        "token": token,
    }


def payload(
    models: dict[str, LanguageModel],
    names: dict[str, str],
    reads: dict[str, Reading],
    text: str,
    seq: int,
    cut: bool,
    page_has: str | None,
    token: str,
) -> Reply:
    """Everything the live component draws for `text` on the rerun path; `seq` echoes the request it answers.
    The static parts are sent only when the page says it lacks them (`page_has` is the static key it holds):
    they were 15% of every reply."""
    data = reply(models, reads, text, seq, cut)
    data["static_key"] = key = static_key(models)
    if page_has != key:
        data["static"] = static_parts(models, names, token)
    return data


def writer_payload(for_text: str, written: dict[str, str], names: dict[str, str], tail: int = 60) -> Writer:
    """Each model's continuation of `for_text`, shown after the text's last `tail` characters."""
    return {
        "pause_ms": WRITER_PAUSE_MS,
        "for_text": for_text,
        "prompt_tail": for_text[-tail:],
        "cut_before": len(for_text) > tail,
        "written": [{"name": t("gen.continues", name=names[mid]), "text": text} for mid, text in written.items()],
        "waiting": t("gen.waiting"),
    }
