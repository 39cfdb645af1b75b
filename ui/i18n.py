"""The app's words in English and Traditional Chinese (zh-TW), chosen in the sidebar or with ?lang= in the URL.

Short strings live in one catalogue of keys per language (i18n/<lang>.json, a format translators know);
long prose lives in content/<lang>/*.md. tests/test_i18n.py fails when a key or a prose file is missing in
either language, or when the code asks for a key no catalogue has.
"""

from __future__ import annotations

import contextlib
import functools
import json
from contextvars import ContextVar
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "i18n"
CONTENT = ROOT / "content"
LANGS = {"en": "English", "zh-TW": "繁體中文"}
DEFAULT = "en"
# The language of work done for a page outside its script runs (the guessing game's socket, ui/guess_path.py),
# where there is no session state or URL to read it from: set by `speaking`.
_SPOKEN: ContextVar[str | None] = ContextVar("unrolled_lang", default=None)


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def lang() -> str:
    """The page's language: the sidebar switch, which is bound to ?lang= in the URL."""
    spoken = _SPOKEN.get()
    if spoken is not None:
        return spoken
    chosen = st.session_state.get("lang")
    if chosen not in LANGS:  # a page run on its own (AppTest) has no switch: the URL still decides
        chosen = st.query_params.get("lang")
    return chosen if chosen in LANGS else DEFAULT


@contextlib.contextmanager
def speaking(language: str):
    """t() and the rest in `language` in this thread (or task) until the block ends, whatever the session says."""
    held = _SPOKEN.set(language if language in LANGS else DEFAULT)
    try:
        yield
    finally:
        _SPOKEN.reset(held)


def t(key: str, **values) -> str:
    """The string for `key` in the page's language, with `values` filled in."""
    text = catalogue(lang())[key]
    return text.format(**values) if values else text


def strings(*keys: str) -> dict[str, str]:
    """Several strings at once, for a component that draws them in the browser."""
    return {key: t(key) for key in keys}


def prose(name: str) -> str:
    return (CONTENT / lang() / f"{name}.md").read_text(encoding="utf-8")


# Sets <html lang> to the page's language, so screen readers pronounce it right (Streamlit leaves it "en").
_html_lang = st.components.v2.component(
    "unrolled_html_lang", js="export default ({ data }) => { document.documentElement.lang = data; };"
)


def language_switch() -> str:
    """The sidebar's language switch. Its value also lives in the URL (?lang=zh-TW), so a link keeps it; the
    sync is by hand because a selectbox bound to the URL matches the shown labels, not the codes."""
    if st.session_state.get("lang") not in LANGS:
        from_url = st.query_params.get("lang")
        st.session_state["lang"] = from_url if from_url in LANGS else DEFAULT
    chosen = st.sidebar.selectbox("Language · 語言", list(LANGS), format_func=LANGS.get, key="lang")
    if chosen == DEFAULT:
        if "lang" in st.query_params:
            del st.query_params["lang"]
    elif st.query_params.get("lang") != chosen:
        st.query_params["lang"] = chosen
    with st.sidebar:
        _html_lang(data=chosen, height=0, key="html_lang")
    return chosen
