"""Unrolled: watch a feed-forward net, a vanilla RNN and an LSTM guess the next character as you type.

    streamlit run app.py

This file is the server: Streamlit serves the pages in unrolled.py, and beside its own routes the live
component's fast path (ui/fast.py), a WebSocket that answers keystrokes without a script rerun, and the Train
page's feed (ui/train_feed.py), which pushes a training job's new steps to the browser's charts. `streamlit run`
finds the `App` below by itself, locally and on Community Cloud.
"""

import streamlit as st

from ui import fast, train_feed

app = st.App("unrolled.py", routes=fast.routes() + train_feed.routes(), lifespan=fast.lifespan)
