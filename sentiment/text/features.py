"""The constant per-token inputs of the model: VADER valence, negator and scope-breaker flags
(and, for the clause-aware structure, contrast and concession flags).

They are looked up by token id from a table built once at training and saved with the
weights, so a bundle needs nothing else to compute them exactly as training did.
"""
import re

import numpy as np

from .tokenizer import is_emoticon

# Words that open a negation scope (our tokenizer splits "don't" into "do" + "n't").
NEGATORS = frozenset("""not n't no never nothing nobody none neither nor nowhere without cannot cant dont doesnt
                     didnt isnt wasnt arent werent wont wouldnt couldnt shouldnt aint hardly barely""".split())
# Tokens that close one: clause punctuation, emoticons (which end a clause: "no school tomorrow :)"
# must not negate the ":)") and the contrastive "but".
BREAKERS = frozenset({"but", "however", "although", "though", "yet"})
# Words after which an earlier clause no longer decides ("A but B"), and those opening a clause the
# next one overrides ("although A, B").
CONTRAST = frozenset({"but", "however", "yet"})
CONCESSION = frozenset({"although", "though"})
NEGATION_WINDOW = 3
TOKEN_FEATURES = ("valence", "negator", "breaker")  # columns of the constant per-token table
CLAUSE_FEATURES = ("contrast", "concession")  # two more columns with clauses=True


def token_columns(clauses):
    """The columns of the constant per-token table, in order."""
    return TOKEN_FEATURES + (CLAUSE_FEATURES if clauses else ())


_PUNCTUATION = re.compile(r"^(?:[.,;:!?]+|\.{2,}|-{2,})$")


def is_breaker(token):
    return token in BREAKERS or bool(_PUNCTUATION.match(token)) or is_emoticon(token)


def lexicon_for(tokenizer, lexicon):
    """The lexicon keyed as `tokenizer` writes tokens.

    VADER rates some emoticons in capitals (":D"); a lower-casing tokenizer that keeps emoticons whole
    writes ":d", so those keys are lower-cased (a lower-case entry already there wins). A tokenizer
    that splits emoticons never writes them: its lexicon stays as it is.
    """
    if not (tokenizer.emoticons and tokenizer.lowercase):
        return lexicon
    lowered = {word.lower(): value for word, value in lexicon.items()}
    return {**lowered, **{word: value for word, value in lexicon.items() if word == word.lower()}}


def token_table(idx_to_token, lexicon, clauses=False):
    """(V, 3) float32 rows [valence in [-1, 1], negator 0/1, breaker 0/1]; (V, 5) with clauses=True,
    adding [contrast 0/1, concession 0/1]: the columns of token_columns(clauses)."""
    table = np.zeros((len(idx_to_token), len(token_columns(clauses))), dtype=np.float32)
    for index, token in enumerate(idx_to_token):
        row = (lexicon.get(token, 0.0), token in NEGATORS, is_breaker(token))
        table[index] = row + ((token in CONTRAST, token in CONCESSION) if clauses else ())
    return table


def is_negator(word):
    """A negator as the GloVe tokenizer writes it ("n't", "not"), or as a whole word ("don't", "dont")."""
    return word in NEGATORS or word.endswith("n't") or word.replace("'", "") in NEGATORS


def word_rows(words, lexicon, clauses=False):
    """(T, 3 or 5) float32: token_table's rows for words read from their text (a model with no word vocabulary)."""
    rows = np.zeros((len(words), len(token_columns(clauses))), dtype=np.float32)
    for index, word in enumerate(words):
        row = (lexicon.get(word, 0.0), is_negator(word), is_breaker(word))
        rows[index] = row + ((word in CONTRAST, word in CONCESSION) if clauses else ())
    return rows


def token_inputs(ids, table, clauses, window=NEGATION_WINDOW):
    """(B, T) token ids (padding included) -> (B, T, K) float32 per-token features, K = 3 or 5 with clauses:
    [valence, in a negation scope, valence signed by the scope (, overridden, valence * overridden)].

    The numbers RelationAttentionEncoder.token_inputs computes in its graph, computed here once per
    text from the constant table instead (tests/test_serving.py checks they agree), so the served
    graph does without some 50 small operators.
    """
    return row_inputs(table[ids], clauses, window)


def row_inputs(rows, clauses, window=NEGATION_WINDOW):
    """(B, T, C) per-token table rows (padding: zeros) -> (B, T, K) per-token features, as token_inputs."""
    valence, negator, breaker = rows[..., 0], rows[..., 1], rows[..., 2]
    open_ = 1 - breaker
    scope = np.zeros_like(negator)
    carry = negator
    for _ in range(window):                                              # reach 1 .. window tokens on
        shifted = np.zeros_like(carry)
        shifted[:, 1:] = carry[:, :-1]
        scope += shifted
        carry = shifted * open_
    scope = np.minimum(scope, 1) * open_
    columns = [valence, scope, valence * (1 - 2 * scope)]
    if clauses:
        contrast, concession = rows[..., 3], rows[..., 4]
        later_contrast = np.cumsum(contrast[:, ::-1], axis=1)[:, ::-1] - contrast   # contrast words after t
        conceded = np.zeros_like(valence)
        if concession.any():
            closed = np.cumsum(breaker, axis=1)                          # breakers at or before t
            for b, t in zip(*np.nonzero(concession)):                    # an opener reaches to its clause's end
                conceded[b] += (np.arange(rows.shape[1]) > t) & (closed[b] == closed[b, t])
            conceded = np.minimum(conceded, 1) * open_
        overridden = np.minimum(later_contrast + conceded, 1)
        columns += [overridden, valence * overridden]
    return np.stack(columns, axis=2).astype(np.float32, copy=False)
