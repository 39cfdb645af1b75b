"""Every string in English and in Traditional Chinese: the catalogues agree, the code asks only for keys they
have, every prose file exists in both languages, and each page runs in zh-TW."""

import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import component
from ui.i18n import CATALOGUES, CONTENT, LANGS, catalogue

ROOT = Path(__file__).resolve().parent.parent
CODE = [
    ROOT / "app.py",
    ROOT / "unrolled.py",
    *sorted((ROOT / "ui").glob("*.py")),
    *sorted((ROOT / "views").glob("*.py")),
]
CJK = re.compile(r"[\u4e00-\u9fff]")
TIMEOUT = 60


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh-TW")
    assert set(en) == set(zh), f"missing in zh-TW: {set(en) - set(zh)}; missing in en: {set(zh) - set(en)}"
    for key in en:
        assert placeholders(en[key]) == placeholders(zh[key]), key
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(LANGS)


def test_every_key_the_code_asks_for_exists():
    en = catalogue("en")
    asked = set()
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        asked |= set(re.findall(r'\bt\(\s*"([\w.]+)"', text))
        asked |= set(re.findall(r'^\s*"((?:live|guess)\.\w+)",', text, re.M))  # component string lists
    assert len(asked) > 100
    assert asked <= set(en), f"asked for but missing: {sorted(asked - set(en))}"
    families = {"arch.": ["ff", "rnn", "lstm", "gru"], "play.": ["hamlet", "tempest", "macbeth"]}
    families["lab.gate_"] = ["input", "forget", "output", "cell"]
    for prefix, names in families.items():
        assert all(prefix + n in en for n in names), prefix


def test_every_prose_file_exists_in_both_languages():
    names = {lang: sorted(p.name for p in (CONTENT / lang).glob("*.md")) for lang in LANGS}
    assert names["en"] == names["zh-TW"] and len(names["en"]) >= 10


def test_the_chinese_prose_uses_the_article_s_terms():
    prose = " ".join(p.read_text(encoding="utf-8") for p in (CONTENT / "zh-TW").glob("*.md"))
    strings_zh = " ".join(catalogue("zh-TW").values())
    for term in [
        "遞歸神經網路",
        "前饋神經網路",
        "長短期記憶",
        "梯度消失",
        "梯度爆炸",
        "時間反向傳播",
        "輸入門",
        "遺忘門",
        "輸出門",
    ]:
        assert term in prose or term in strings_zh, term


def run_in_chinese(script: str, **query) -> AppTest:
    at = AppTest.from_file(script, default_timeout=TIMEOUT)
    at.query_params["lang"] = "zh-TW"
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_the_main_page_in_zh_tw():
    at = run_in_chinese("../unrolled.py")
    assert not at.exception
    assert at.title[0].value == catalogue("zh-TW")["main.title"]
    data = component(at, "-live")
    live = {**data, **data.pop("static", {})}  # the static parts travel beside the reply
    assert CJK.search(live["label"]) and all(CJK.search(v) for v in live["strings"].values())
    assert [c["name"] for c in live["models"]] == ["前饋神經網路", "遞歸神經網路", "長短期記憶"]
    assert CJK.search(at.subheader[0].value) and all(CJK.search(s.label) for s in at.slider)
    assert "遞歸神經網路" in " ".join(m.value for m in at.markdown)


def test_the_memory_lab_in_zh_tw():
    at = run_in_chinese("../views/memory_lab.py")
    assert not at.exception
    assert at.title[0].value == "記憶實驗室"
    assert all(CJK.search(h.value) for h in at.header)
    assert all(CJK.search(m.label) for m in at.metric)
    assert CJK.search(at.text_area[0].label) and CJK.search(at.selectbox(key="lstm_unit").label)


def test_the_guessing_game_in_zh_tw():
    at = run_in_chinese("../views/guess.py", seed="5")
    assert not at.exception
    assert at.title[0].value == "猜下一個字元"
    board = component(at, "-guess_board")
    assert board["label"] == "你的猜測" and board["players"][0] == "你" and board["play"] == "《哈姆雷特》"
    assert all(CJK.search(v) for v in board["strings"].values())


@pytest.mark.parametrize("odd", ["fr", "", "zh-TW<script>"])
def test_an_unknown_language_falls_back_to_english(odd):
    at = AppTest.from_file("../unrolled.py", default_timeout=TIMEOUT)
    at.query_params["lang"] = odd
    at.run()
    assert not at.exception and at.title[0].value == catalogue("en")["main.title"]
