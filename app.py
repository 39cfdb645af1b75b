"""Unrolled: watch a feed-forward net, a vanilla RNN and an LSTM guess the next character as you type.

    streamlit run app.py

This file is the server: Streamlit serves the pages in unrolled.py, and beside its own routes the live
component's fast path (ui/fast.py), a WebSocket that answers keystrokes without a script rerun. `streamlit run`
finds the `App` below by itself, locally and on Community Cloud.
"""

import streamlit as st

from ui import fast

app = st.App("unrolled.py", routes=fast.routes(), lifespan=fast.lifespan)
