"""The components' browser code: each component's script is the shared prelude (ui/web/prelude.js) joined in
front of its own file, the way its styles join shared and own CSS files. Biome (scripts/test.sh) lints them."""

from __future__ import annotations

from pathlib import Path

WEB = Path(__file__).resolve().parent / "web"


def script(*names: str) -> str:
    """The prelude, then each file named (shared ones such as distribution.js first, the component's own last)."""
    return "\n".join((WEB / name).read_text(encoding="utf-8") for name in ("prelude.js", *names))


def styles(*names: str) -> str:
    return "".join((WEB / name).read_text(encoding="utf-8") for name in names)
