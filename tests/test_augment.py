import pytest

from sentiment.text.tokenizer import Tokenizer
from sentiment.training.augment import negate, negation_counterfactuals
from sentiment.training.config import TrainConfig

LEXICON = {"amazing": 0.7, "bad": -0.625, "good": 0.475, "fine": 0.2, "ok": 0.225, "sadly": -0.4}


def tokens(text):
    return Tokenizer()(text)[0]


@pytest.mark.parametrize("text, label, expected", [
    ("The battery life is amazing.", "positive", "the battery life is not amazing ."),
    ("The plot was really bad.", "negative", "the plot was not really bad ."),
    ("It's a bad phone.", "negative", "it 's not a bad phone ."),
    ("They're good", "positive", "they 're not good"),
])
def test_a_copula_before_the_one_word_that_carries_the_label_gets_not_and_the_label_flips(text, label, expected):
    negated, flipped = negate(tokens(text), label, LEXICON)
    assert " ".join(negated) == expected
    assert flipped == {"positive": "negative", "negative": "positive"}[label]


@pytest.mark.parametrize("text, label", [
    ("The battery life is not amazing.", "negative"),       # already negated
    ("The battery is amazing and the screen good.", "positive"),  # two words carry it
    ("The screen is amazing, fine and ok.", "positive"),     # weaker words lean the same way
    ("The battery is amazing.", "negative"),                 # the word disagrees with the label
    ("An amazing battery.", "positive"),                     # no copula
    ("The director's amazing eye.", "positive"),             # possessive 's, not a copula
    ("The battery is amazing.", "neutral"),                  # no label to flip to
])
def test_sentences_where_the_flip_would_be_a_guess_are_left_alone(text, label):
    assert negate(tokens(text), label, LEXICON) is None


def test_counterfactuals_name_the_row_they_came_from():
    rows = [tokens("Sadly, it is over."), tokens("The food was good."), tokens("It was bad.")]
    assert negation_counterfactuals(rows, ["negative", "positive", "negative"], LEXICON) == [
        (1, tokens("The food was not good."), "negative"), (2, tokens("It was not bad."), "positive")]


def test_neutral_rows_are_left_alone_among_polar_ones():
    rows = [tokens("The food was good."), tokens("The food was good."), tokens("It was bad.")]
    assert negation_counterfactuals(rows, ["positive", "neutral", "negative"], LEXICON) == [
        (0, tokens("The food was not good."), "negative"), (2, tokens("It was not bad."), "positive")]


def test_augmentation_needs_the_lexicon():
    with pytest.raises(ValueError, match="augment_negation needs lexicon=True"):
        TrainConfig(lexicon=False, negation=False, clauses=False, augment_negation=True)
