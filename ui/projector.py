"""A room's projector view: what a teacher puts on the wall while the class plays (views/projector.py draws it
through ui/web/projector.js). Its figures come from the store, so a view on one process sees guesses made on
another; each process re-reads a room only when the room's version (bumped by every record, join and change)
has moved, and keeps the last summary it built for that version.

Only projector views refresh on a timer (REFRESH); a student's page never polls.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

import numpy as np
import segno

from core import pooled
from core.guess import GAVE_UP, MAX_WRONG, Passages
from core.text import visible
from store.rooms import Room, Store
from ui.i18n import t

REFRESH = 1.0  # seconds between a projector view's looks at its room (a guess shows within about 2 s)
STALE = 5.0  # seconds without a refresh after which the view greys its figures (ui/web/projector.js)
LIVE_RESAMPLES = 1000  # the bootstrap's resamples on the wall, as in the export
CACHED_ROOMS = 64


class _Summaries:
    """(room, version, language) -> the summary last built for it, in this process."""

    lock = threading.Lock()
    built: OrderedDict[tuple, dict] = OrderedDict()


@functools.lru_cache(maxsize=64)
def qr_matrix(link: str) -> list[str]:
    """The link's QR code as rows of "0"/"1" (with its quiet zone), for the view to draw as SVG squares; made
    once per link (3.5 ms each)."""
    code = segno.make(link, error="m")
    return ["".join("1" if cell else "0" for cell in row) for row in code.matrix_iter(scale=1, border=4)]


def summary(store: Store, room: Room, passages: Passages, model_plays: dict, names: dict[str, str]) -> dict:
    """The figures for the wall of `room` (as just read from the store); built again only when its version moved."""
    key = (room.code, room.version, t("room.the_class"))
    with _Summaries.lock:
        if key in _Summaries.built:
            _Summaries.built.move_to_end(key)
            return _Summaries.built[key]
    built = build(store, room, passages, model_plays, names)
    with _Summaries.lock:
        _Summaries.built[key] = built
        while len(_Summaries.built) > CACHED_ROOMS:
            _Summaries.built.popitem(last=False)
    return built


def build(store: Store, room, passages: Passages, model_plays: dict, names: dict[str, str]) -> dict:
    text = passages.texts[room.passage % len(passages.texts)]
    records = store.records(room.code, room.passage)
    players = store.players(room.code)
    rows = [(r.player, r.position, r.count) for r in records]
    figures = pooled.pool(rows, resamples=LIVE_RESAMPLES)
    mean, seen = pooled.per_position(rows, len(text))
    done: dict[str, int] = {}
    for r in records:
        done[r.player] = done.get(r.player, 0) + 1
    table, dists, dist_names = [], [], []
    if figures is not None:
        b = figures.bounds
        table.append(
            {
                "name": t("room.the_class"),
                "guesses_per_char": figures.guesses_per_char,
                "lower": b.lower,
                "upper": b.upper,
                "lower_interval": figures.lower_interval,
                "upper_interval": figures.upper_interval,
                "bits": None,
            }
        )
        dists.append(figures.q.round(4).tolist())
        dist_names.append(t("room.the_class"))
    lstm = None
    for mid, play in model_plays.items():
        picked = pooled.on_same(rows, play.counts)
        if mid == "lstm":
            lstm = play.counts
        if picked.size == 0:
            continue
        positions = np.asarray([p for _, p, _ in rows if 0 <= p < len(play.bits)])
        b = pooled.bounds(picked)
        table.append(
            {
                "name": names[mid],
                "guesses_per_char": float(picked.mean()),
                "lower": b.lower,
                "upper": b.upper,
                "lower_interval": None,
                "upper_interval": None,
                "bits": float(play.bits[positions].mean()),
            }
        )
        dists.append(np.bincount(picked, minlength=GAVE_UP + 1)[1:].__truediv__(picked.size).round(4).tolist())
        dist_names.append(names[mid])
    strip = [
        {
            "ch": visible(ch),  # space, newline and tab as the game draws them
            "mean": None if n == 0 else round(float(m), 2),
            "players": int(n),
            "lstm": None if lstm is None else int(lstm[i]),
        }
        for i, (ch, m, n) in enumerate(zip(text, mean, seen, strict=True))
    ]
    progress = [
        {
            "name": t("proj.player", n=i + 1) if p.hidden or not p.nickname else p.nickname,
            "done": done.get(p.player, 0),
        }
        for i, p in enumerate(players)
    ]
    return {
        "code": room.code,
        "closed": room.closed,
        "passage": room.passage,
        "number": room.passage % len(passages.texts) + 1,
        "length": len(text),
        "players": len(players),
        "max_players": room.max_players,
        "recorded": len(records),
        "version": room.version,
        "table": table,
        "dist_names": dist_names,
        "dists": dists,
        "strip": strip,
        "progress": progress,
        "max_wrong": MAX_WRONG,
        "falling": figures is None or figures.bounds.monotone,
    }
