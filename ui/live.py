"""The main page's live loop: two custom components (Streamlit components v2) drawn from compact JSON.

`live` owns the text box and draws every model's top guesses, surprisal strip and unrolled network. With each
reply the server also sends, per model, the top guesses after every possible next character (one batched
step, `core.predict.lookahead`), so the page shows a keystroke's predictions the moment the key lands; the
server's rerun then confirms them. `writer` shows each model's continuation of the text, only while that is
still the text in the box, and asks for a new one when typing pauses.

Why components and not Altair and Graphviz: building and validating the Altair charts took ~310 ms of server
CPU per keystroke and the browser ~300 ms more to draw six Vega charts and three Graphviz graphs (profiled,
shared/FACTS.md); these payloads take a few milliseconds to build and a frame to draw. User text only ever
reaches the page through `textContent` in ui/web/*.js, never as HTML.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.models import Model
from core.predict import Reading, lookahead, softmax, top_k
from core.text import MAX_CHARS, VISIBLE
from ui import i18n
from ui.i18n import strings, t

WEB = Path(__file__).resolve().parent / "web"
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
)
TOP_K = 5
UNROLLED_STEPS = 8  # characters drawn in each unrolled network

live_component = st.components.v2.component(
    "unrolled_live",
    js=(WEB / "live.js").read_text(encoding="utf-8"),
    css=(WEB / "live.css").read_text(encoding="utf-8"),
)
writer_component = st.components.v2.component(
    "unrolled_writer",
    js=(WEB / "writer.js").read_text(encoding="utf-8"),
    css=(WEB / "live.css").read_text(encoding="utf-8"),
)


def rounded(values: np.ndarray, digits: int = 4) -> list:
    """Plain floats for JSON, NaN as null (JSON has no NaN)."""
    values = np.round(np.asarray(values, dtype=np.float64), digits)
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    return [v if ok else None for v, ok in zip(values.tolist(), finite, strict=True)]


def unrolled_steps(model: Model, reading: Reading, steps: int = UNROLLED_STEPS) -> list[list]:
    """The last `steps` characters read, each with the model's top guess after it: [[char, guess id, p]]."""
    start = max(0, len(reading.text) - steps)
    best = [top_k(p, 1)[0] for p in softmax(reading.logits[start:])]
    return [[ch, i, round(p, 4)] for ch, (i, p) in zip(reading.text[start:], best, strict=True)]


def model_view(model: Model, reading: Reading) -> dict:
    """What the page draws for one model after one text, plus what it needs to draw the next keystroke alone."""
    probs = reading.next_probs()
    ahead_ids, ahead_p = lookahead(model, reading, TOP_K)
    return {
        "top": [[i, round(p, 4)] for i, p in top_k(probs, TOP_K)],
        "next_bits": rounded(-np.log2(np.maximum(probs, 1e-30)), 3),  # the surprisal of whichever key comes next
        "ahead_ids": ahead_ids.tolist(),  # (V, k): top guesses after the text plus token v
        "ahead_p": rounded(ahead_p, 3),
        "bits": rounded(reading.surprisal_bits(), 3),
        "steps": unrolled_steps(model, reading),
    }


def model_card(model: Model, name: str) -> dict:
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


def unknown_chars(models: dict[str, Model], text: str) -> list[str]:
    return sorted({ch for ch in text if not any(m.info.vocab.known(ch) for m in models.values())})


def static_key(models: dict[str, Model]) -> str:
    return i18n.lang() + ":" + ",".join(models)


def payload(
    models: dict[str, Model],
    names: dict[str, str],
    reads: dict[str, Reading],
    text: str,
    seq: int,
    cut: bool,
    page_has: str | None = None,
) -> dict:
    """Everything the live component draws for `text`; `seq` echoes the request it answers. The parts that
    do not change while typing (cards, vocabularies, words) are sent only when the page says it lacks them
    (`page_has` is the static key it holds): they were 15% of every reply."""
    key = static_key(models)
    data = {
        "seq": seq,
        "text": text,
        "static_key": key,
        "cut": cut,
        "unknown": unknown_chars(models, text),
        "views": [model_view(model, reads[mid]) for mid, model in models.items()] if text else [],
    }
    if page_has != key:
        data["static"] = {
            "label": t("live.label"),
            "strings": strings(*LIVE_STRINGS),
            "max_chars": MAX_CHARS,
            "unrolled_steps": UNROLLED_STEPS,
            "visible": VISIBLE,
            "models": [model_card(model, names[mid]) for mid, model in models.items()],
        }
    return data


def writer_payload(for_text: str, written: dict[str, str], names: dict[str, str], tail: int = 60) -> dict:
    """Each model's continuation of `for_text`, shown after the text's last `tail` characters."""
    return {
        "for_text": for_text,
        "prompt_tail": for_text[-tail:],
        "cut_before": len(for_text) > tail,
        "written": [{"name": t("gen.continues", name=names[mid]), "text": text} for mid, text in written.items()],
        "waiting": t("gen.waiting"),
    }
