"""The Train page: AppTest in both languages, its bad inputs, the queue and a dying worker seen from the page,
and in Chromium a run whose loss falls, a Stop, and axe-core on the page with its charts drawn."""

from __future__ import annotations

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from bench.training_load import descendants, tree_cpu
from core.train import jobs, tasks
from core.train.engine import Settings
from tests.helpers import SERVERS, component, wait_idle

PAGE = "../views/train.py"
TIMEOUT = 60


def page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["lang"] = lang
    return at.run()


def poll(at: AppTest, until, seconds: float = 30) -> AppTest:
    """Rerun the page as its fragment would (AppTest does not run timers) until `until(at)` holds."""
    deadline = time.monotonic() + seconds
    while not until(at):
        assert time.monotonic() < deadline, [e.value for e in at.error] + [i.value for i in at.info]
        time.sleep(0.3)
        at.run()
    return at


def charts(at: AppTest) -> int:
    """How many models the page's live charts have steps of (the component's snapshot)."""
    found = [c for c in at.get("bidi_component") if c.proto.id.endswith("train_live")]
    return len(component(at, "train_live")["snapshot"]["series"]) if found else 0


def the_job(at: AppTest):
    return jobs.pool().get(at.session_state["train_job"])


@pytest.mark.parametrize("lang, title", [("en", "Train it yourself"), ("zh-TW", "自己訓練")])
def test_the_page_in_both_languages(lang, title):
    at = page(lang)
    assert not at.exception
    assert at.title[0].value == title
    assert [b.key for b in at.button] == ["train_go", "train_stop", "train_reset"]
    assert at.button(key="train_stop").disabled and not at.button(key="train_go").disabled
    assert [w.label for w in at.slider] == [t_("train.k", lang)]


def t_(key: str, lang: str) -> str:
    from ui.i18n import catalogue

    return catalogue(lang)[key]


def test_the_text_experiment_offers_the_unroll_and_a_source():
    at = page()
    at.radio(key="train_experiment").set_value("text").run()
    assert not at.exception and at.slider(key="train_unroll").value == 50
    assert at.radio(key="train_source").value == "excerpt"


def test_training_draws_its_charts_and_stop_ends_it_within_five_seconds():
    at = page()
    at.select_slider(key="train_hidden").set_value(16).run()
    at.button(key="train_go").click().run()
    assert not at.exception and not at.error
    poll(at, lambda a: charts(a) == 3)  # every model has steps on the page
    assert at.button(key="train_go").disabled and not at.button(key="train_stop").disabled
    asked = time.monotonic()
    at.button(key="train_stop").click().run()
    job = the_job(at)
    assert jobs.pool().wait(job, 5) and job.state == "cancelled"
    assert time.monotonic() - asked < 5
    at.run()
    assert any(i.value == "Stopped." for i in at.info)
    assert not at.button(key="train_go").disabled
    at.button(key="train_reset").click().run()
    assert charts(at) == 0 and "train_job" not in at.session_state


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "too short"),
        ("hello", "too short"),
        ("\x00\x01binary" * 50, "binary"),
    ],
)
def test_a_text_that_cannot_train_gets_a_message(text, message):
    at = page()
    at.radio(key="train_experiment").set_value("text").run()
    at.radio(key="train_source").set_value("own").run()
    at.text_area(key="train_text").input(text).run()
    at.button(key="train_go").click().run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert "train_job" not in at.session_state


def test_a_long_text_is_cut_and_rare_characters_are_named():
    rare = "".join(chr(0x4E00 + i) for i in range(120))  # first, so the cut keeps them
    text = rare + "The quick brown fox jumps over the lazy dog. " * 2500
    at = page()
    at.radio(key="train_experiment").set_value("text").run()
    at.radio(key="train_source").set_value("own").run()
    at.text_area(key="train_text").input(text).run()
    at.button(key="train_go").click().run()
    notes = [i.value for i in at.info]
    assert any("cut to its first 100,000" in n for n in notes), notes
    (shown,) = [c.value for c in at.code]  # the learner's characters, as text
    kept = tasks.MAX_VOCAB - len(set("The quick brown fox jumps over the lazy dog. "))  # ties: the first seen
    assert shown.split() == list(rare[kept:])[:60]
    jobs.pool().cancel(the_job(at))


def test_no_model_picked_gets_a_message():
    at = page()
    at.multiselect(key="train_cells").set_value([]).run()
    assert any("at least one model" in w.value for w in at.warning)
    at.button(key="train_go").click().run()
    assert any("at least one model" in e.value for e in at.error)


def test_every_slider_at_its_extremes_trains():
    at = page()
    at.select_slider(key="train_hidden").set_value(256).run()
    at.select_slider(key="train_lr").set_value(10.0).run()
    at.toggle(key="train_clip_on").set_value(False).run()
    at.slider(key="train_k").set_value(50).run()
    at.button(key="train_go").click().run()
    poll(at, lambda a: charts(a) >= 3)
    assert not at.exception
    jobs.pool().cancel(the_job(at))


def test_the_queue_position_shows_while_the_job_waits():
    pool = jobs.pool()
    others = []
    for i in range(pool.workers):
        others.append(pool.submit(Settings(task="text", max_seconds=30, max_steps=10**6), owner=f"someone-{i}"))
    try:
        at = page()
        at.button(key="train_go").click().run()
        waits = [i.value for i in at.info if "queue" in i.value]
        assert waits and re.search(r"place \d+ in the queue", waits[0]), waits
    finally:
        for job in others:
            pool.cancel(job)
    poll(at, lambda a: charts(a) >= 1)
    pool.cancel(the_job(at))


def test_a_worker_that_dies_shows_a_message_and_the_page_goes_on():
    at = page()
    at.button(key="train_go").click().run()
    poll(at, lambda a: charts(a) >= 1)
    job = the_job(at)
    for slot in jobs.pool().slots:
        if slot.process is not None and job.state == "running":
            slot.process.kill()
    assert jobs.pool().wait(job, 10) and job.state == "failed"
    at.run()
    assert any("worker training this job stopped" in e.value for e in at.error)
    at.button(key="train_go").click().run()  # and it trains again
    poll(at, lambda a: charts(a) >= 1)
    jobs.pool().cancel(the_job(at))


def latest_losses(browser_page) -> list[float]:
    label = browser_page.locator("div[aria-label^='Training loss against steps']").first.get_attribute("aria-label")
    return [float(x) for x in re.findall(r" (\d+\.\d+)", label)]


def train_on_text(browser, server: str):
    """The Train page in Chromium, training on the excerpt until its loss chart is drawn."""
    page_ = browser.new_page(viewport={"width": 1400, "height": 2000})
    page_.goto(server + "/Train")
    page_.get_by_text("Your text (many-to-many)").click()
    wait_idle(page_)
    page_.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train", exact=True).click()
    page_.wait_for_selector("div[aria-label^='Training loss against steps']", timeout=30_000)
    return page_


@pytest.mark.browser
def test_in_chromium_the_loss_falls_and_stop_stops(server, browser):
    page_ = train_on_text(browser, server)
    first = latest_losses(page_)
    page_.wait_for_timeout(6000)
    later = latest_losses(page_)
    assert len(first) == len(later) == 3 and sum(later) < sum(first) - 0.5, (first, later)
    main = page_.get_by_test_id("stMainBlockContainer")  # not the header's Stop, which stops a rerun
    main.get_by_role("button", name="Stop", exact=True).click()
    page_.wait_for_selector(
        "[data-testid=stAlert] >> text=Stopped.", timeout=10_000
    )  # the job ends within 5 s (AppTest checks); the page shows it on its next read
    page_.close()


def training_cores(server_pid: int, seconds: float = 0.5) -> float:
    """Cores the server's training workers used over the next `seconds`."""

    first = tree_cpu(descendants(server_pid))
    time.sleep(seconds)
    return (tree_cpu(descendants(server_pid)) - first) / seconds


@pytest.mark.browser
def test_in_chromium_the_page_follows_its_job_over_the_feed_and_a_closed_tab_s_job_ends_within_five_seconds(
    server, browser
):
    page_ = train_on_text(browser, server)
    assert page_.locator(".train-live").get_attribute("data-transport") == "feed"
    assert training_cores(SERVERS[server]) > 0.3  # the control: a worker trains
    page_.close()
    closed = time.monotonic()
    while training_cores(SERVERS[server]) > 0.05:
        assert time.monotonic() - closed < 5 + 0.5, "the closed tab's job still trains"


@pytest.mark.browser
def test_in_chromium_a_page_whose_feed_cannot_open_follows_its_job_by_snapshots(server, browser):
    page_ = browser.new_page(viewport={"width": 1400, "height": 2000})
    page_.route_web_socket(re.compile(r".*/api/train.*"), lambda ws: ws.close())  # a proxy that drops it
    page_.goto(server + "/Train")
    page_.wait_for_selector("[data-testid=stButton]", timeout=60_000)
    wait_idle(page_)
    page_.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train", exact=True).click()
    page_.wait_for_selector(".train-live[data-transport=snapshots]", timeout=30_000)
    root = page_.locator(".train-live")
    deadline = time.monotonic() + 30
    while int(root.get_attribute("data-step") or 0) == 0:
        assert time.monotonic() < deadline
        page_.wait_for_timeout(200)
    first = int(root.get_attribute("data-step"))
    page_.wait_for_timeout(2000)
    assert int(root.get_attribute("data-step")) > first  # the snapshots keep coming
    main = page_.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Stop", exact=True).click()
    page_.wait_for_selector("[data-testid=stAlert] >> text=Stopped.", timeout=10_000)
    page_.close()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_axe_finds_no_serious_violation_on_the_train_page_with_its_charts(server, browser, lang):
    from tests.test_a11y import AXE

    page_ = browser.new_page(viewport={"width": 1400, "height": 2000})
    page_.goto(server + f"/Train?lang={lang}")
    page_.wait_for_selector("[data-testid=stButton]", timeout=60_000)
    wait_idle(page_)
    main = page_.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name=t_("train.train", lang), exact=True).click()
    page_.wait_for_selector(".train-live svg path", timeout=30_000)
    page_.wait_for_timeout(2000)
    # stopped first, so that axe reads the page settled: the charts stay drawn after a stop
    main.get_by_role("button", name=t_("train.stop", lang), exact=True).click()
    page_.wait_for_selector(f"[data-testid=stAlert] >> text={t_('train.cancelled', lang)}", timeout=10_000)
    wait_idle(page_)
    page_.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page_.evaluate(
        "async () => (await axe.run(document)).violations"
        ".map((v) => ({id: v.id, impact: v.impact, where: v.nodes[0].target.join(' ')}))"
    )
    assert not [v for v in violations if v["impact"] in ("serious", "critical")], violations
    page_.close()


def test_the_main_page_runs_this_session_s_trained_models_beside_the_shipped_ones():
    from core.train.backend import REGISTRY, TrainedModel
    from core.train.engine import Run
    from tests.helpers import component
    from ui import door, fast

    run = Run(Settings(task="text", cells=("lstm",), hidden=16, seq_len=20))
    for n in range(5):
        run.step(n)
    at = AppTest.from_file("../unrolled.py", default_timeout=TIMEOUT)
    token = door.issue_token()
    at.session_state["fast_token"] = token
    held = REGISTRY.put(token, {"yours-lstm": TrainedModel("yours-lstm", run.nets["lstm"].weights(), 5, 1.0, 4.0)})
    try:
        at.run()
        assert not at.exception
        assert any("Your LSTM" in i.value and "this session only" in i.value for i in at.info)
        data = component(at, "-live")
        assert "yours-lstm" in data["views"] and len(data["views"]) == 4
        card = next(c for c in data["static"]["models"] if c["id"] == "yours-lstm")
        assert card["name"] == "Your LSTM"
        reply = json.loads(fast.answer(json.dumps({"text": "To be", "seq": 1}), {}, token=token))
        assert "yours-lstm" in reply["views"]  # the keystroke route finds them by the page's token
        other = json.loads(fast.answer(json.dumps({"text": "To be", "seq": 1}), {}, token=door.issue_token()))
        assert "yours-lstm" not in other["views"]  # and no other page does
    finally:
        REGISTRY.drop(token)
        del held


@pytest.mark.browser
def test_in_chromium_type_with_the_models_just_trained(server, browser):
    page_ = train_on_text(browser, server)
    main = page_.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name="Stop", exact=True).click()
    page_.get_by_role("button", name="Type with these models").click(timeout=15_000)
    page_.wait_for_selector(".live .bar-row", timeout=30_000)
    wait_idle(page_)
    assert "this session only" in " ".join(page_.locator("[data-testid=stAlert]").all_inner_texts())
    names = page_.locator(".live strong").all_inner_texts()
    assert any("Your LSTM" in n for n in names), names
    page_.close()


def test_what_was_done_to_a_text_is_said_in_both_languages():
    """Every remark the text task makes has words in both catalogues that take exactly its figures."""
    from ui.i18n import LANGS, catalogue

    rare = "".join(chr(0x4E00 + i) for i in range(120))
    task = tasks.Text.from_text(rare + "To be, or not to be.\x07\n" * 6000)  # cut, controls, rare
    assert {note.kind for note in task.notes} == set(tasks.NOTES)
    for lang in LANGS:
        for kind, figures in task.notes:
            said = catalogue(lang)[f"train.note_{kind}"].format(**figures)
            assert all(str(v) in said for v in figures.values()), (lang, said)


def test_with_training_turned_off_the_page_says_so_and_offers_no_train_button(monkeypatch):
    monkeypatch.setattr(jobs, "pool", lambda: None)  # what UNROLLED_TRAIN_WORKERS=0 makes it
    at = page()
    assert not at.exception
    assert any("UNROLLED_TRAIN_WORKERS=0" in i.value for i in at.info)
    assert not at.button


@pytest.mark.parametrize("by, words", [("learner", "Stopped."), ("page", "disconnected"), ("server", "shutting down")])
def test_a_job_ended_without_the_learner_s_stop_says_why(by, words):
    at = page()
    at.select_slider(key="train_hidden").set_value(16).run()
    at.button(key="train_go").click().run()
    job = the_job(at)
    jobs.pool().cancel(job, by=by)
    assert jobs.pool().wait(job, 10) and job.state == "cancelled"
    at.run()
    said = [a.value for a in (*at.info, *at.warning)]
    assert any(words in s for s in said), said
    if by != "learner":
        assert not any(s == "Stopped." for s in said)


@pytest.mark.browser
def test_the_typing_while_training_benchmark_runs_and_writes_its_figures(tmp_path):
    """bench.training_load in brief (a short stop instead of the cap), so that it cannot rot between runs."""
    import subprocess
    import sys

    out = tmp_path / "figures.json"
    command = [sys.executable, "-m", "bench.training_load", "--sessions", "3", "--seconds", "4", "--alone", "3"]
    run = subprocess.run([*command, "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["alone"]["transport"] == "feed" and figures["alone"]["steps_per_s"] > 0
    assert figures["class"]["steps_per_s"] > 0 and figures["class"]["ended"] == ["Stopped."]
    assert figures["class"]["typing"]["latencies"] and not figures["class"]["typing"]["errors"]
    assert max(figures["feed"]["nothing_new_ms"]) < max(figures["feed"]["frame_ms"])
    assert "one watching page costs the server" in run.stdout
