"""Server compute per keystroke: what the app computes for one model set when the text changes.

    python -m bench.keystroke [--chars 500] [--repeats 50]

Two cases, each the median over repeats, all shipped text models together:
- full: the whole text read afresh (an edit in the middle), plus top-5 and surprisal for every model;
- append: one character typed at the end, the previous reading carried over (the common case);
- backspace: the last character deleted, re-read from the last state checkpoint (every 32 characters);
- a typing session: the whole text typed from empty with a typo and a backspace every 20 characters;
- the live page's keystroke: one character appended, then the top-5 after every possible next character
  (`core.predict.lookahead`, what lets the page draw a key before the server has seen it);
- the lookahead's 16 rows per model: through the row step built from the model (core/step.py) against a
  batch of 16 in the model's own graph, each also after an 8 ms pause (as a server between keystrokes,
  when caches have gone cold);
and the memory lab's analysis (influence and gradients through time) of 200 characters.
The baseline is PyTorch eager on the same architectures and sizes, in the same run, with two threads, as
onnxruntime has for the LSTM. Its weights are random: cost does not depend on their values, and the runtime must
not depend on the training code's checkpoints, which a fresh clone does not have.
"""

from __future__ import annotations

import argparse
import statistics
import time

from core import step
from core.memory import analyse
from core.models import load_models
from core.predict import lookahead, read, top_k

EMBED_SIZE = 64  # export/train.py's default, for an entry that does not record its own

TEXT = (
    "Now is the winter of our discontent made glorious summer by this sun of York; and all the clouds that "
    "lour'd upon our house in the deep bosom of the ocean buried. Now are our brows bound with victorious "
    "wreaths; our bruised arms hung up for monuments; our stern alarums changed to merry meetings, our dreadful "
    "marches to delightful measures. Grim-visaged war hath smooth'd his wrinkled front; and now, instead of "
    "mounting barbed steeds to fright the souls of fearful adversaries, he capers nimbly in a lady's chamber."
)


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def keystroke(models, text: str, previous=None):
    readings = {}
    for mid, model in models.items():
        r = read(model, text, previous[mid] if previous else None)
        top_k(r.next_probs(), 5)
        r.surprisal_bits()
        readings[mid] = r
    return readings


def typing_session(models, text: str) -> list[float]:
    """Per-keystroke times while typing `text` from empty, with a wrong key and a backspace every 20."""
    times, readings, typed = [], None, ""
    for i, ch in enumerate(text):
        keys = [ch] if i % 20 != 19 else ["#", None, ch]  # None: backspace
        for key in keys:
            typed = typed[:-1] if key is None else typed + key
            began = time.perf_counter()
            readings = keystroke(models, typed, readings)
            times.append((time.perf_counter() - began) * 1000)
    return times


def live_keystroke(models, text: str, previous) -> None:
    """What the live page computes for one key typed at the end: one step per model, then the lookahead."""
    for mid, model in models.items():
        r = read(model, text, previous[mid])
        top_k(r.next_probs(), 5)
        r.surprisal_bits()
        lookahead(model, r, 5)


def rows_ms(model, text: str, repeats: int, pause: float = 0.0) -> tuple[float, float]:
    """Median ms for the lookahead's AHEAD_ROWS rows after `text`: the row step, then a batch in the graph."""
    state = read(model, text).state
    tokens = model.info.vocab.encode("etaoinshrdlucmfw")  # 16 rows, the likeliest next keys of English
    stepper = model.stepper
    out = []
    for use in (stepper, None):
        model.stepper = use
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            step.next_steps(model, state, tokens, 5)
            times.append((time.perf_counter() - began) * 1000)
            time.sleep(pause)
        out.append(statistics.median(times))
    model.stepper = stepper
    return out[0], out[1]


def torch_live_baseline(models, text: str):
    """The same live keystroke in PyTorch eager, state carried: one step, then a batched step over the vocabulary."""
    try:
        import torch

        from export.models import ModelConfig, build
    except ImportError:
        return None
    torch.set_num_threads(2)
    built = []
    for model in models.values():
        e = model.info
        config = ModelConfig(e.arch, len(e.vocab), e.hidden_size, e.embed_size or EMBED_SIZE, e.layers)
        net = build(config).eval()
        with torch.no_grad():
            _, state, _ = net(torch.from_numpy(model.info.vocab.encode(text[:-1]))[None])
        built.append((net, model.info.vocab, state))

    def run():
        with torch.no_grad():
            for net, vocab, state in built:
                logits, after, _ = net(torch.from_numpy(vocab.encode(text[-1:]))[None], state)
                torch.topk(torch.softmax(logits[0, -1], -1), 5)
                every = torch.arange(len(vocab))[:, None]  # (V, 1)
                repeated = tuple(s.repeat(len(vocab), 1, 1) for s in after)
                ahead, _, _ = net(every, repeated)
                torch.topk(torch.softmax(ahead[:, 0], -1), 5, dim=-1)

    return run


def torch_baseline(models, text: str):
    """The same full read in PyTorch eager: returns a callable, or None where torch is not installed."""
    try:
        import torch

        from export.models import ModelConfig, build
    except ImportError:
        return None
    torch.set_num_threads(2)  # what onnxruntime gives the LSTM, whose weights outgrow one core's L2
    built = []
    for model in models.values():
        e = model.info
        config = ModelConfig(e.arch, len(e.vocab), e.hidden_size, e.embed_size or EMBED_SIZE, e.layers)
        built.append((build(config).eval(), model.info.vocab))

    def run():
        with torch.no_grad():
            for net, vocab in built:
                logits, _, _ = net(torch.from_numpy(vocab.encode(text))[None])
                probs = torch.softmax(logits[0], -1)
                torch.topk(probs[-1], 5)
                -torch.log2(probs[:-1].gather(1, torch.from_numpy(vocab.encode(text)[1:])[:, None]))

    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    models, problems = load_models()
    if problems:
        raise SystemExit(f"models failed to load: {problems}")
    text = (TEXT * (args.chars // len(TEXT) + 1))[: args.chars]
    prefix = keystroke(models, text[:-1])
    full = median_ms(lambda: keystroke(models, text), args.repeats)
    append = median_ms(lambda: keystroke(models, text, prefix), args.repeats)
    backspace_from = keystroke(models, text + "q")
    backspace = median_ms(lambda: keystroke(models, text, backspace_from), args.repeats)
    live = median_ms(lambda: live_keystroke(models, text, prefix), args.repeats)
    session = typing_session(models, text)
    print(f"models: {', '.join(f'{m} ({models[m].info.params:,} params)' for m in models)}")
    print(f"text: {len(text)} characters, {args.repeats} repeats, medians")
    print(f"onnxruntime  full read + top-5 + surprisal, all models: {full:7.2f} ms per keystroke")
    print(f"onnxruntime  one character appended (state carried):    {append:7.2f} ms per keystroke")
    print(f"onnxruntime  backspace (from the last checkpoint):      {backspace:7.2f} ms per keystroke")
    print(f"onnxruntime  live page: appended + lookahead of every next: {live:7.2f} ms per keystroke")
    print(
        f"onnxruntime  typing the text with a typo every 20 chars: {statistics.median(session):6.2f} ms median, "
        f"{max(session):.2f} ms max over {len(session)} keystrokes"
    )
    for mid, model in models.items():
        if model.stepper is None:
            print(f"lookahead    {mid}: no row step (its graph was not recognised): a batch of 16 in its graph")
            continue
        for pause in (0.0, 0.008):
            ours, batch = rows_ms(model, text, args.repeats * 4, pause)
            when = "after an 8 ms pause" if pause else "back to back"
            print(
                f"lookahead    {mid:5} 16 rows, {when:20}: row step {ours:6.3f} ms, batch in its graph "
                f"{batch:6.3f} ms ({batch / ours:.1f}x)"
            )
    memory_text = text[:200]
    memory = median_ms(
        lambda: [analyse(m, memory_text) for m in models.values() if m.cell is not None], max(5, args.repeats // 5)
    )
    print(f"memory lab   influence + gradients through time, {len(memory_text)} chars, all models: {memory:7.2f} ms")
    baseline = torch_baseline(models, text)
    if baseline is None:
        print("torch eager  not installed: no baseline (pip install -r requirements-dev.txt)")
        return
    eager = median_ms(baseline, args.repeats)
    print(f"torch eager  full read + top-5 + surprisal, all models: {eager:7.2f} ms per keystroke")
    print(f"ratio        torch eager / onnxruntime (full read):     {eager / full:7.2f}x")
    print(f"ratio        torch eager full / onnxruntime append:     {eager / append:7.2f}x")
    eager_live = median_ms(torch_live_baseline(models, text), args.repeats)
    print(f"torch eager  live page: appended + lookahead, state carried: {eager_live:7.2f} ms per keystroke")
    print(f"ratio        torch eager / onnxruntime (live page):     {eager_live / live:7.2f}x")


if __name__ == "__main__":
    main()
