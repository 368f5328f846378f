import pytest

from sentiment.text.tokenizer import Tokenizer


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


def test_keeps_emoticons_whole():
    tokens, _ = Tokenizer()("Monday again :( but :-) ;D <3 >:( (: :'( =/ :))")
    assert tokens == ["monday", "again", ":(", "but", ":-)", ";d", "<3", ">:(", "(:", ":'(", "=/", ":))"]


@pytest.mark.parametrize("text", ["see http://example.com/a:b", "at 10:30, 3:2 (odds)", "note: fine", "x=3 f(x)",
                                  "smile:) glued", "a :dog"])
def test_leaves_colons_and_brackets_that_are_no_emoticons_as_before(text):
    assert Tokenizer()(text) == Tokenizer(emoticons=False)(text)


def test_a_bundle_from_before_emoticons_splits_them_as_it_was_trained():
    old_settings = {"max_len": 64, "lowercase": True, "normalization": "NFKC", "version": 1}
    tokenizer = Tokenizer.from_dict(old_settings)
    assert tokenizer.emoticons is False
    assert tokenizer("great :)")[0] == ["great", ":", ")"]


def test_leaves_out_mentions_and_links():
    tokens, _ = Tokenizer()("@bob_99 where will you sell the corn? http://x.co/a?b=1 (via @c) www.example.com #corn")
    assert tokens == ["where", "will", "you", "sell", "the", "corn", "?", "(", "via", ")", "#", "corn"]
    assert Tokenizer()("mail bob@example.com")[0] == ["mail", "bob", "@", "example", ".", "com"]  # no mention


def test_a_text_that_is_only_mentions_and_links_keeps_them():
    assert Tokenizer()("@bob http://x.co")[0] == ["@", "bob", "http", ":", "/", "/", "x", ".", "co"]


def test_a_bundle_from_before_mentions_were_dropped_keeps_them_as_it_was_trained():
    settings = {k: v for k, v in Tokenizer().to_dict().items() if k != "drop_mentions"}
    tokenizer = Tokenizer.from_dict(settings)
    assert tokenizer.drop_mentions is False and tokenizer.emoticons is True
    assert tokenizer("@bob great")[0] == ["@", "bob", "great"]


def test_the_lexicon_is_keyed_as_the_tokenizer_writes_emoticons():
    from sentiment.text.features import lexicon_for

    lexicon = {":D": 0.575, ":P": 0.35, ":p": 0.25, "good": 0.475}
    assert lexicon_for(Tokenizer(), lexicon) == {":d": 0.575, ":p": 0.25, "good": 0.475}  # lower-case entry wins
    assert lexicon_for(Tokenizer(emoticons=False), lexicon) is lexicon  # never writes them: unchanged
