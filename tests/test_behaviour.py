"""Behaviour: the suite itself, and must-pass regressions (word order, negation) that small models can learn."""
import random

import numpy as np
import pytest

from sentiment.cli import ARTICLE_STRUCTURE
from sentiment.corpora.datasets import read_lexicon
from sentiment.evaluation.behaviour import CAPABILITIES, pass_rates, suite
from sentiment.inference.predictor import Predictor
from sentiment.training.augment import STRONG
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from tests.conftest import SMALL
from tests.helpers import BAD, GOOD, NOUNS, write_jsonl


def test_the_suite_is_deterministic_and_scores_per_capability():
    cases = suite()
    assert cases == suite() and list(cases) == list(CAPABILITIES)
    assert sum(map(len, cases.values())) >= 500 and all(len(items) >= 60 for items in cases.values())
    rates, failures = pass_rates(lambda texts: ["positive"] * len(texts), cases)
    for name, items in cases.items():
        assert rates[name] == pytest.approx(np.mean([label == "positive" for _, label in items]))
    assert rates["negated negative"] == 1 and rates["negated positive"] == 0
    assert failures["negated positive"] and not failures["negated negative"]


def contrast_rows(pairs, rng):
    """'the NOUN was A but the NOUN2 was B', labelled by B: the clause after 'but' decides."""
    rows = []
    for a, b in pairs:
        noun, noun2 = rng.sample(NOUNS, 2)
        rows.append({"text": f"the {noun} was {a} but the {noun2} was {b} .",
                     "label": "positive" if b in GOOD else "negative"})
    return rows


@pytest.fixture(scope="module")
def contrast_models(tmp_path_factory):
    rng = random.Random(4)
    pairs = [(a, b) for a in GOOD + BAD for b in GOOD + BAD if (a in GOOD) != (b in GOOD)]
    rng.shuffle(pairs)
    held_out, seen = pairs[:30], pairs[30:]
    folder = tmp_path_factory.mktemp("contrast")
    train = write_jsonl(folder / "train.jsonl", contrast_rows(seen * 2, rng))
    dev = write_jsonl(folder / "dev.jsonl", contrast_rows(seen[:40], rng))
    models = {}
    for name, structure in (("default", {}), ("article", ARTICLE_STRUCTURE)):
        out = folder / name
        fit(TrainConfig(data=str(train), dev=str(dev), out=str(out), seed=2, **dict(SMALL, epochs=10), **structure),
            log=lambda m: None)
        models[name] = Predictor.load(out)
    return models, held_out


def test_must_pass_the_clause_after_but_decides(contrast_models):
    models, held_out = contrast_models
    sentences = [f"the plot was {a} but the acting was {b} ." for a, b in held_out]
    expected = ["positive" if b in GOOD else "negative" for _, b in held_out]
    predicted = models["default"].predict(sentences)
    assert np.mean([p == e for p, e in zip(predicted, expected)]) >= 0.9
    assert models["default"].predict(["the plot was dull but the acting was superb .",
                                      "the plot was superb but the acting was dull ."]) == ["positive", "negative"]


def test_the_article_structure_cannot_see_which_clause_comes_last(contrast_models):
    models, held_out = contrast_models
    a, b = held_out[0]
    swapped = models["article"].predict_proba([f"the plot was {a} but the acting was {b} .",
                                               f"the acting was {b} but the plot was {a} ."])
    np.testing.assert_allclose(swapped[0], swapped[1], rtol=1e-5)


@pytest.fixture(scope="module")
def negation_models(tmp_path_factory):
    """Small models trained on plain "the NOUN is ADJ ." sentences, never a "not", with and without counterfactuals."""
    rng = random.Random(5)
    lexicon = read_lexicon()
    words = [w for w in GOOD + BAD if abs(lexicon.get(w, 0.0)) >= STRONG]  # those a counterfactual can flip

    def rows(n):
        return [{"text": f"the {rng.choice(NOUNS)} is {w} .", "label": "positive" if w in GOOD else "negative"}
                for w in words for _ in range(n)]

    folder = tmp_path_factory.mktemp("negation")
    train, dev = write_jsonl(folder / "train.jsonl", rows(12)), write_jsonl(folder / "dev.jsonl", rows(2))
    models = {}
    for augment in (True, False):
        out = folder / f"augment-{augment}"
        fit(TrainConfig(data=str(train), dev=str(dev), out=str(out), seed=2, augment_negation=augment,
                        **dict(SMALL, epochs=10)), log=lambda m: None)
        models[augment] = Predictor.load(out)
    return models, words


def test_must_pass_counterfactuals_teach_not_bad_from_sentences_without_not(negation_models):
    models, words = negation_models
    sentences = [f"the {noun} is not {w} ." for w in words for noun in NOUNS[:3]]
    expected = ["negative" if w in GOOD else "positive" for w in words for _ in NOUNS[:3]]
    passed = {augment: np.mean([p == e for p, e in zip(model.predict(sentences), expected)])
              for augment, model in models.items()}
    assert passed[True] >= 0.9, passed
    assert passed[False] <= 0.5, passed  # nothing in the plain data says what "not" does
    assert models[True].predict(["the plot is not awful .", "the plot is awful ."]) == ["positive", "negative"]
