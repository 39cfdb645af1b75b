"""What AppTest-based tests share: the data a page's component was mounted with."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest


def component(at: AppTest, suffix: str) -> dict:
    """The JSON a components-v2 component (its key ends in `suffix`, e.g. "-live") was mounted with."""
    (found,) = [c for c in at.get("bidi_component") if c.proto.id.endswith(suffix)]
    return json.loads(found.proto.json)
