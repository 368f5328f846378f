"""The vocabulary: building it at training, and reading tokens as ids the same way everywhere.

An elongated word the vocabulary lacks ("goooood", "loooove") is read as its shortened form when the
vocabulary holds that: runs of three or more of one letter cut to two ("good"), else to one
("love"). Only words that would otherwise read <unk> change: known tokens keep their ids, and with
the default min_freq of 1 so does every training token, so bundles trained before read as they did.
"""
import collections
import re

import gluonnlp as nlp

_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")


def build_vocab(token_lists, min_freq, extra_words=()):
    """Training tokens seen at least `min_freq` times, plus `extra_words` (frequent GloVe words, lexicon words)."""
    counter = collections.Counter(token for tokens in token_lists for token in tokens)
    counter = collections.Counter({t: c for t, c in counter.items() if c >= min_freq})
    counter.update({word: 1 for word in extra_words if word not in counter})
    return nlp.Vocab(counter, min_freq=1, unknown_token="<unk>", padding_token="<pad>",
                     bos_token=None, eos_token=None)


def known_form(vocab, token):
    """`token` if the vocabulary holds it, else its shortened form if it is elongated and held, else None."""
    known = vocab.token_to_idx
    if token in known:
        return token
    if _ELONGATION.search(token):
        for keep in (2, 1):
            shortened = _ELONGATION.sub(lambda run: run.group(1) * keep, token)
            if shortened in known:
                return shortened
    return None


def token_ids(vocab, tokens):
    """The ids of `tokens`: known words as themselves, elongated ones as their shortened form, others <unk>."""
    known = vocab.token_to_idx
    return [known[known_form(vocab, token) or vocab.unknown_token] for token in tokens]
