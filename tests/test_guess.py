"""Shannon's guessing game: the rank and bound functions in core/, the game's rules, and the page in AppTest."""

import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.errors import InputError
from core.guess import (
    GAVE_UP,
    MAX_WRONG,
    Game,
    distribution,
    frequency_counts,
    load_passages,
    model_play,
    ranks_in,
    score,
    shannon_bounds,
)
from core.models import SHIPPED_DIR, load_models
from core.predict import read, softmax
from tests.helpers import component

TIMEOUT = 60


@pytest.fixture(scope="module")
def models():
    loaded, problems = load_models()
    assert not problems
    return loaded


# -----------------------------------------------------------------------------
# Shannon's bounds and guess counts


def test_shannon_bounds_on_a_hand_made_table():
    """Half the characters in 1 guess, a quarter in 2, a quarter in 3:
    upper = -(.5 log .5 + 2 * .25 log .25) = 0.5 + 1 = 1.5 bits;
    lower = 1(.5-.25)log 1 + 2(.25-.25)log 2 + 3(.25-0)log 3 = 0.75 log2 3 = 1.1887 bits."""
    lower, upper = shannon_bounds(distribution([1, 1, 2, 3]))
    assert upper == pytest.approx(1.5)
    assert lower == pytest.approx(0.75 * math.log2(3))


def test_shannon_bounds_at_the_extremes():
    assert shannon_bounds(distribution([1] * 7)) == (0.0, 0.0)  # always right first: no uncertainty
    lower, upper = shannon_bounds([0.25, 0.25, 0.25, 0.25])  # four equally likely guess counts
    assert upper == pytest.approx(2.0) and lower == pytest.approx(4 * 0.25 * 2.0)


def test_distribution_counts_every_guess_number_up_to_giving_up():
    q = distribution([1, 1, 2, GAVE_UP])
    assert q.shape == (GAVE_UP,) and q[0] == 0.5 and q[1] == 0.25 and q[-1] == 0.25 and q.sum() == 1
    with pytest.raises(InputError):
        distribution([0])
    with pytest.raises(InputError):
        shannon_bounds([0.5, 0.2])


def test_a_rank_is_one_plus_the_tokens_rated_higher_and_never_the_unknown_token():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.1, 0.3]])
    assert ranks_in(probs, np.array([1, 2, 1])).tolist() == [2, 1, 3]
    # token 0 excluded (the unknown token): it is never guessed, so the others move up
    assert ranks_in(probs, np.array([1, 2, 1]), excluded=0).tolist() == [1, 1, 2]
    assert ranks_in(probs, np.array([0, 2, 1]), excluded=0).tolist()[0] == 3  # unknown: ranked last


def test_a_model_s_counts_are_the_ranks_of_each_character_in_its_prediction(models):
    text = "Fair is foul, and foul is fair"
    for model in models.values():
        play = model_play(model, text)
        reading = read(model, "\n" + text)
        for t, ch in enumerate(text):
            probs = softmax(reading.logits[t])
            probs[model.info.vocab.unk_id] = -1
            rank = 1 + int((probs > probs[model.info.vocab.index[ch]]).sum())
            assert play.counts[t] == min(rank, GAVE_UP)
            assert play.bits[t] == pytest.approx(-np.log2(softmax(reading.logits[t])[model.info.vocab.index[ch]]))


def test_the_lstm_guesses_better_than_the_feed_forward_net_on_held_out_passages(models):
    passages = load_passages(SHIPPED_DIR)
    by_arch = {
        m.info.arch: np.concatenate([model_play(m, t).counts for t in passages.texts[:20]]) for m in models.values()
    }
    assert by_arch["lstm"].mean() < by_arch["rnn"].mean() < by_arch["ff"].mean()


def test_the_baseline_guesses_in_order_of_frequency():
    assert frequency_counts("eta", [" ", "e", "t", "a"]).tolist() == [2, 3, 4]
    assert frequency_counts("z", list("abcdefghijklm")).tolist() == [GAVE_UP]


def test_shipped_passages_are_held_out_and_playable(models):
    passages = load_passages(SHIPPED_DIR)
    assert len(passages.texts) >= 20 and set(passages.plays) == {"hamlet", "tempest", "macbeth"}
    vocab = next(iter(models.values())).info.vocab
    assert all(len(t) == 100 and all(vocab.known(c) for c in t) for t in passages.texts)


# -----------------------------------------------------------------------------
# the rules


def test_a_game_counts_wrong_guesses_and_reveals_after_ten():
    game = Game("ab")
    assert game.guess("x") == "wrong" and game.guess("x") == "again" and game.guess("a") == "right"
    assert game.counts == [2] and game.position == 1 and game.wrong == []
    outcomes = [game.guess(c) for c in "cdefghijkl"]
    assert outcomes == ["wrong"] * (MAX_WRONG - 1) + ["revealed"]
    assert game.counts == [2, GAVE_UP] and game.done
    with pytest.raises(InputError):
        game.guess("a")


def test_show_me_counts_as_eleven():
    game = Game("ab")
    game.guess("q")
    game.show()
    assert game.counts == [GAVE_UP] and game.position == 1
    assert score(game.counts).guesses_per_char == GAVE_UP


# -----------------------------------------------------------------------------
# the page


def board(at: AppTest) -> dict:
    return component(at, "-guess_board")


def play(at: AppTest, guess: str) -> dict:
    seq = board(at)["seq"] + 1
    at.session_state["guess_board"] = {"typed": {"guess": guess, "seq": seq}}
    at.run()
    assert not at.exception
    return board(at)


@pytest.fixture
def page():
    at = AppTest.from_file("../views/guess.py", default_timeout=TIMEOUT)
    at.query_params["seed"] = "5"
    return at.run()


def test_playing_a_few_characters_scores_the_player_and_the_models(page):
    text = load_passages(SHIPPED_DIR).texts[5]
    data = board(page)
    assert data["shown"] == "" and data["number"] == 6 and data["players"][0] == "You"
    wrong = next(c for c in "zqxjk" if c != text[0])
    data = play(page, wrong)
    assert "Not" in data["message"] and data["wrong"] == [wrong] and data["shown"] == ""
    data = play(page, text[0])
    assert data["shown"] == text[0] and data["record"][0]["counts"][0] == 2 and "2 guesses" in data["message"]
    data = play(page, text[1])
    assert data["shown"] == text[:2] and [r["counts"][0] for r in data["record"]] == [2, 1]
    you = data["scores"][0]
    assert you["name"] == "You" and you["guesses_per_char"] == pytest.approx(1.5) and you["bits"] is None
    lstm = next(s for s in data["scores"] if s["name"] == "LSTM")
    assert lstm["bits"] is not None and lstm["bits"] > 0  # the models' cross-entropy on what is revealed
    assert data["dists"][0][:2] == [0.5, 0.5]


def test_odd_guesses_get_a_message_and_are_not_counted(page):
    for odd, says in [("ab", "One character at a time"), ("😀", "never occurs"), ("", "Type one character")]:
        data = play(page, odd)
        assert says in data["message"] and data["wrong"] == [] and data["shown"] == ""


def test_show_me_reveals_the_character_as_eleven_guesses(page):
    text = load_passages(SHIPPED_DIR).texts[5]
    page.session_state["guess_board"] = {"show": True}
    page.run()
    data = board(page)
    assert data["shown"] == text[0] and data["record"][0]["counts"][0] == GAVE_UP
