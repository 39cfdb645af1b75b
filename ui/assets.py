"""The components' browser code: each component's script is the shared prelude (ui/web/prelude.js) joined in
front of its own file, the way its styles join shared and own CSS files. Biome (scripts/test.sh) lints them."""

from __future__ import annotations

from pathlib import Path

WEB = Path(__file__).resolve().parent / "web"


def script(name: str) -> str:
    return (WEB / "prelude.js").read_text(encoding="utf-8") + "\n" + (WEB / name).read_text(encoding="utf-8")


def styles(*names: str) -> str:
    return "".join((WEB / name).read_text(encoding="utf-8") for name in names)
