"""bench.reply's child: answers one session's typing with this checkout's ui.fast.answer, in-process.

    python -P bench/reply_child.py KEYS PHRASE   (run by bench/reply.py, in the checkout measured)

Reads a gap in ms per line of stdin and answers with the mean thread CPU per reply over one pass of the typing,
and the models' share of it, in ms. Written against names every checkout since the fast path has:
ui.fast.answer, core.step.steps and core.models.Model.run.
"""

import json
import sys
import time

import core.models
import core.step
from ui import fast

models_spent, depth = [0.0], [0]


def timed(run):  # the models' share: time in their runs (the outermost, where one calls another)
    def wrapped(*args, **kwargs):
        if depth[0]:
            return run(*args, **kwargs)
        depth[0] += 1
        c0 = time.thread_time()
        try:
            return run(*args, **kwargs)
        finally:
            models_spent[0] += time.thread_time() - c0
            depth[0] -= 1

    return wrapped


def main() -> None:
    core.step.steps = timed(core.step.steps)  # the row steps: a key and the lookahead
    core.models.Model.run = timed(core.models.Model.run)  # the models' own graphs: a full read
    keys, phrase = int(sys.argv[1]), sys.argv[2]
    texts = ["neuron" + (phrase * 10)[:n] for n in range(1, keys + 1)]
    fast.answer(json.dumps({"text": "neuron", "seq": 0}), {})
    print("ready", flush=True)
    for line in sys.stdin:
        gap = float(line) / 1000
        readings, spent, models_spent[0] = {}, 0.0, 0.0
        for seq, text in enumerate(texts, 1):
            message = json.dumps({"text": text, "seq": seq})
            if gap:
                time.sleep(gap)
            c0 = time.thread_time()
            reply = fast.answer(message, readings)
            spent += time.thread_time() - c0
            if json.loads(reply).get("type") != "reply":
                raise SystemExit(f"no reply: {reply[:200]}")
        print(spent / len(texts) * 1000, models_spent[0] / len(texts) * 1000, flush=True)


if __name__ == "__main__":
    main()
