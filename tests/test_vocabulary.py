import numpy as np

from sentiment.inference.predictor import Predictor
from sentiment.text.vocabulary import build_vocab, known_form, token_ids


def test_elongated_words_are_read_as_the_word_the_vocabulary_holds():
    vocab = build_vocab([["good", "love", "soo", "yesss", "!"]], min_freq=1)
    assert known_form(vocab, "goooood") == "good"  # runs cut to two letters
    assert known_form(vocab, "loooove") == "love"  # then to one
    assert known_form(vocab, "soooooo") == "soo" and known_form(vocab, "yesss") == "yesss"  # a known token stays
    assert known_form(vocab, "zzzzz") is None and known_form(vocab, "gooood2") is None
    assert known_form(vocab, "1111") is None and known_form(vocab, "!!!") is None  # letters only
    unknown = vocab.token_to_idx["<unk>"]
    assert token_ids(vocab, ["goooood", "good", "zzzzz"]) == [vocab["good"], vocab["good"], unknown]


def test_the_predictor_reads_an_elongated_word_as_the_word(small_bundle):
    predictor = Predictor.load(small_bundle)
    long, plain, unknown = predictor.explain(["the plot is loooovely", "the plot is lovely", "the plot is zzzzz"])
    assert long["tokens"] == ["the", "plot", "is", "loooovely"] and long["unknown_tokens"] == []
    assert np.allclose(list(long["probabilities"].values()), list(plain["probabilities"].values()))
    assert unknown["unknown_tokens"] == ["zzzzz"]
