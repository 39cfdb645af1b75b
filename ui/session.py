"""What a page's Streamlit session holds that the server's routes look it up by: its token.

The fast path (ui/fast.py) runs no script and so never sees a session; a page's token is all it knows of one.
A script run makes the token once per session, sends it to the page with the live component's static part,
and keys what the session owns by it (the models it trained, core/train/backend.py).
"""

from __future__ import annotations

import streamlit as st

from ui import door


def page_token() -> str:
    """This session's token, made once: a rerun on every keystroke must not sign anew. Only a page Streamlit
    has served holds one, and it is signed, so the server keeps nothing for a page until it opens a socket."""
    if "fast_token" not in st.session_state:
        st.session_state["fast_token"] = door.issue_token()
    return st.session_state["fast_token"]
