"""Counterfactual negation: "the battery life is amazing" (positive) -> "... is not amazing" (negative).

"Not bad" is rare in real reviews, so a model learns little about negated negative words from
them. This derives negated sentences from the training sentences themselves, only where one word
plainly carries the label: no negator yet, exactly one strong lexicon word, agreeing with the
label and with no other word leaning the same way, right after a copula ("is", "was", "'re", ...;
an article or adverbs may come between). "not" goes after the copula and the label flips.
Rows with another label (neutral) are left alone. Dev, test and the behaviour suite are never augmented.
"""
from ..text.features import NEGATORS

COPULAS = frozenset({"is", "was", "are", "were", "am", "'m", "'re"})
PRONOUNS = frozenset({"it", "that", "this", "there", "he", "she", "what", "who", "here"})  # "'s" is a copula after these
BETWEEN = frozenset({"a", "an", "very", "so", "too", "really", "quite", "pretty", "extremely", "incredibly", "truly",
                     "totally", "completely", "just", "all", "that"})
STRONG = 0.3  # |valence| of the word that carries the label (VADER's mean rating / 4)
LEANING = 0.1  # |valence| from which another word would share the label
MAX_TOKENS = 30
FLIP = {"positive": "negative", "negative": "positive"}


def _copula_before(tokens, k):
    """Index of the copula that governs tokens[k] across articles and adverbs, or None."""
    j = k - 1
    while j >= 0 and tokens[j] in BETWEEN:
        j -= 1
    if j < 0:
        return None
    if tokens[j] in COPULAS or (tokens[j] == "'s" and j > 0 and tokens[j - 1] in PRONOUNS):
        return j
    return None


def negate(tokens, label, lexicon):
    """(tokens with "not" inserted, flipped label), or None when the sentence does not qualify."""
    if label not in FLIP or len(tokens) > MAX_TOKENS or any(t in NEGATORS for t in tokens):
        return None
    sign = 1 if label == "positive" else -1
    strong = [k for k, t in enumerate(tokens) if abs(lexicon.get(t, 0.0)) >= STRONG]
    leaning = [k for k, t in enumerate(tokens) if lexicon.get(t, 0.0) * sign >= LEANING]
    if len(strong) != 1 or leaning != strong:
        return None
    j = _copula_before(tokens, strong[0])
    if j is None:
        return None
    return tokens[: j + 1] + ["not"] + tokens[j + 1 :], FLIP[label]


def negation_counterfactuals(token_lists, labels, lexicon):
    """[(row index, tokens, label)] for each training row that yields a counterfactual."""
    result = []
    for index, (tokens, label) in enumerate(zip(token_lists, labels)):
        negated = negate(tokens, label, lexicon)
        if negated:
            result.append((index, *negated))
    return result
