import pytest

from sentiment.tokenizer import Tokenizer


def test_splits_like_glove():
    tokens, truncated = Tokenizer()("The film's ending? I can't, won't... Well-known J.R.R. fans paid 1,000!!")
    assert tokens == ["the", "film", "'s", "ending", "?", "i", "ca", "n't", ",", "wo", "n't", "...", "well-known",
                      "j.r.r.", "fans", "paid", "1,000", "!!"]
    assert truncated is False


def test_normalises_unicode_quotes_and_controls():
    t = Tokenizer()
    assert t("\u201cGreat\u201d movie\u2019s \u00ad") == t('"great" movie\'s')
    assert t("ca\u0301fe\x00x")[0] == ["cáfe", "x"]  # NFKC composes, NUL becomes a space
    assert t("''quoted''")[0] == ['"', "quoted", '"']


def test_clips_to_max_len_and_says_so():
    tokens, truncated = Tokenizer(max_len=3)("one two three four")
    assert tokens == ["one", "two", "three"] and truncated is True
    assert Tokenizer(max_len=4)("one two three four") == (["one", "two", "three", "four"], False)


def test_settings_round_trip():
    t = Tokenizer(max_len=7)
    assert Tokenizer.from_dict(t.to_dict()) == t


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10"])
def test_rejects_bad_max_len(bad):
    with pytest.raises(ValueError, match="max_len"):
        Tokenizer(max_len=bad)
