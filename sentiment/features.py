"""The constant per-token inputs of the model: VADER valence, negator and scope-breaker flags.

They are looked up by token id from a table built once at training and saved with the
weights, so a bundle needs nothing else to compute them exactly as training did.
"""
import re

import numpy as np

from .model import TOKEN_FEATURES

# Words that open a negation scope (our tokenizer splits "don't" into "do" + "n't").
NEGATORS = frozenset("""not n't no never nothing nobody none neither nor nowhere without cannot cant dont doesnt
                     didnt isnt wasnt arent werent wont wouldnt couldnt shouldnt aint hardly barely""".split())
# Tokens that close one: clause punctuation and the contrastive "but".
BREAKERS = frozenset({"but", "however", "although", "though", "yet"})
_PUNCTUATION = re.compile(r"^(?:[.,;:!?]+|\.{2,}|-{2,})$")


def is_breaker(token):
    return token in BREAKERS or bool(_PUNCTUATION.match(token))


def token_table(idx_to_token, lexicon):
    """(V, 3) float32 rows [valence in [-1, 1], negator 0/1, breaker 0/1] in the order of TOKEN_FEATURES."""
    table = np.zeros((len(idx_to_token), len(TOKEN_FEATURES)), dtype=np.float32)
    for index, token in enumerate(idx_to_token):
        table[index] = (lexicon.get(token, 0.0), token in NEGATORS, is_breaker(token))
    return table
