"""Unrolled: watch a feed-forward net, a vanilla RNN and an LSTM guess the next character as you type.

    streamlit run app.py

This file is the server: Streamlit serves the pages in unrolled.py, and beside its own routes the live
component's fast path (ui/fast.py), a WebSocket that answers keystrokes without a script rerun, the guessing
game's (ui/guess_path.py), which judges guesses the same way, and the Train page's feed (ui/train_feed.py),
which pushes a training job's new steps to the browser's charts. `streamlit run` finds the `App` below by
itself, locally and on Community Cloud.
"""

import streamlit as st

from ui import fast, guess_path, train_feed

app = st.App("unrolled.py", routes=fast.routes() + guess_path.routes() + train_feed.routes(), lifespan=fast.lifespan)
