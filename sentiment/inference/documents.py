"""Whole texts: the predictor's first and last steps, splitting a text into sentences and answering it whole.

`plan` (preprocess) splits a text into sentences
(sentiment.text.sentences), at most MAX_SENTENCES of them; a sentence longer than the model's
max_len is read in pieces that fit it. Whatever is cut is flagged `truncated`, on the sentence
and on the text.

A bundle with a document level answers a text of several sentences with it (sentiment.inference.review), and
`document_matrices` adds its exact shares; otherwise, or with verdict="rules", the hand-set verdict does.
The hand-set verdict (Verdict) is a weighted mean of the sentences' scores and probabilities. A sentence
can weigh more the later it comes, the more polar it is, and when it opens with a cue that a
verdict follows ("overall", "in the end", "that said", "but", ...); the dev documents chose all
three with the default model. A text whose positive and negative sentences both hold a large share
of the weight is `mixed`. `answers` (postprocess) puts the verdict and the sentences' answers together.
"""
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..text.sentences import Span, split_sentences
from . import answer

MAX_SENTENCES = 256
# Cues that the verdict follows, matched on a sentence's first tokens (the tokenizer's lower-cased words).
CUES = ("overall", "in the end", "all in all", "that said", "having said that", "in short", "in sum", "to sum up",
        "in conclusion", "bottom line", "the bottom line", "still", "but", "however", "yet", "ultimately",
        "in summary", "all told", "on balance", "verdict", "so")


class Plan(NamedTuple):
    """A text made ready to score: its sentences' (start, end) offsets and (tokens, truncated), how many
    sentences past MAX_SENTENCES were left out, and whether the text was clipped before it was read."""
    spans: list
    tokenized: list
    dropped: int
    clipped: bool = False


def plan(text, tokenizer, max_sentences=MAX_SENTENCES, clipped=False):
    """Split and tokenize one text. Raises ValueError when it holds no words at all.

    A sentence longer than the model's max_len is read in consecutive pieces of whole words, each
    within max_len tokens, rather than clipped: each piece is then a sentence of the answer.
    """
    spans, tokenized = [], []
    for sentence in split_sentences(text):
        read = tokenizer(text[sentence.start:sentence.end])
        parts = [(sentence, read)] if not read[1] else [(span, tokenizer(text[span.start:span.end]))
                                                         for span in _pieces(text, sentence, tokenizer)]
        for span, (tokens, truncated) in parts:
            if tokens:  # a sentence of control characters only is no sentence
                spans.append(span)
                tokenized.append((tokens, truncated))
    if not tokenized:
        raise ValueError("text has no words (empty or whitespace-only)")
    dropped = max(0, len(tokenized) - max_sentences)
    return Plan(spans[:max_sentences], tokenized[:max_sentences], dropped, clipped)


_WORDS = re.compile(r"\S+")


def _pieces(text, span, tokenizer):
    """Consecutive spans of whole words of a sentence too long for the model, each within its limits."""
    limits = tokenizer.limits
    pieces, start, end, count = [], None, None, (0,) * len(limits)
    for word in _WORDS.finditer(text, span.start, span.end):
        size = tokenizer.measure(word.group())  # a word's tokens do not depend on its neighbours
        grown = tuple(c + s for c, s in zip(count, size))
        if start is not None and any(g > limit for g, limit in zip(grown, limits)):
            pieces.append(Span(start, end))
            start, grown = None, size
        if start is None:
            start = word.start()
        end, count = word.end(), grown
    pieces.append(Span(start, end))
    return pieces


def _starts_with_cue(tokens):
    head = " ".join(tokens[:4])
    return any(head == cue or head.startswith(cue + " ") for cue in CUES)


@dataclass(frozen=True)
class Verdict:
    """How sentence answers make a text's answer (tuned on the dev documents, bench/quality/documents.py).

    weight_i = (1 + later * i / (n - 1)) * (cue if sentence i opens with a cue) * (1 - salience * p_i(neutral)),
    normalised to sum to 1. The text's score is sum_i weight_i score_i and its probabilities
    sum_i weight_i p_i (the share of the text that reads positive, neutral, negative). Its label
    follows the score, as the raters' labels follow their mean rating: neutral within `band` of 0,
    else its sign; mixed instead when positive and negative each hold at least `mixed` of the weight.
    Verdict(later=0, cue=1, salience=0, mixed=2) weighs every sentence alike. The defaults are the dev
    documents' choice with the default model (bench/quality/documents.py --tune); the score is the rating head's
    (the mean rating / 4), so the band of 0.1 is a mean rating of 0.4.
    """
    later: float = 1.0
    cue: float = 2.0
    salience: float = 0.8
    band: float = 0.1
    mixed: float = 0.35

    def weights(self, sentences, tokenized):
        n = len(sentences)
        weights = []
        for i, (result, (tokens, _)) in enumerate(zip(sentences, tokenized)):
            position = 1 + self.later * i / (n - 1) if n > 1 else 1.0
            cue = self.cue if _starts_with_cue(tokens) else 1.0
            salience = 1 - self.salience * result["probabilities"].get("neutral", 0.0)
            weights.append(max(position * cue * salience, 1e-6))
        total = sum(weights)
        return [w / total for w in weights]

    def __call__(self, sentences, tokenized, labels):
        """(label, {label: p}, score, weights) for the sentence answers of one text."""
        if len(sentences) == 1:
            return one_sentence(sentences[0])
        weights = self.weights(sentences, tokenized)
        probabilities = {k: float(sum(w * s["probabilities"][k] for w, s in zip(weights, sentences))) for k in labels}
        score = weighted_score(sentences, weights)
        if score is None:  # a model whose labels are not polar: the most probable class
            return max(probabilities, key=probabilities.get), probabilities, None, weights
        if min(probabilities.get("positive", 0.0), probabilities.get("negative", 0.0)) >= self.mixed:
            label = "mixed"
        elif abs(score) < self.band and "neutral" in labels:
            label = "neutral"
        else:
            label = "positive" if score > 0 else "negative"
        return label, probabilities, score, weights


VERDICT = Verdict()


def one_sentence(only):
    """The verdict on a text of one sentence, whatever the verdict: that sentence's own answer, all the weight."""
    return only["label"], dict(only["probabilities"]), only["score"], [1.0]


def weighted_score(sentences, weights):
    """The text's score: its sentences' scores, weighted as in the verdict (None for a model without one)."""
    if any(s["score"] is None for s in sentences):
        return None
    return float(sum(w * s["score"] for w, s in zip(weights, sentences)))


def answers(results, plans, texts, labels, options, verdict=VERDICT):
    """TextAnswers (sentiment.inference.answer) for planned texts, from their sentences' results in order.

    results: Predictor.forward_sentences' dicts for every sentence of every plan; options: what the caller
    asked for (answer.Options). Each text gets its verdict, its sentences with their offsets and weights, and,
    for a text of one sentence, that sentence's matrices at the top too.
    """
    out, at = [], 0
    for text, p in zip(texts, plans):
        sentences = results[at:at + len(p.tokenized)]
        at += len(p.tokenized)
        label, probabilities, score, weights = verdict(sentences, p.tokenized, labels)
        read = [answer.SentenceAnswer(text=text[span.start:span.end], start=span.start, end=span.end,
                                      weight=weight, label=r["label"], probabilities=r["probabilities"],
                                      score=r["score"], truncated=r["truncated"],
                                      unknown_tokens=r["unknown_tokens"], **matrices(r, options))
                for r, span, weight in zip(sentences, p.spans, weights)]
        explained = {}
        if options.needs_contributions and len(read) > 1 and hasattr(verdict, "explain"):
            explained = document_matrices(verdict, sentences, label, probabilities, read, options)
        whole = answer.TextAnswer(label=label, probabilities=probabilities, score=score,
                                  truncated=p.clipped or bool(p.dropped) or any(s.truncated for s in read),
                                  sentences_dropped=p.dropped,
                                  unknown_tokens=list(dict.fromkeys(t for s in read for t in s.unknown_tokens)),
                                  sentences=read if options.sentences else None, **explained)
        if len(read) == 1:
            for name in answer.SENTENCE_MATRICES:
                setattr(whole, name, getattr(read[0], name))
        out.append(whole)
    return out


def document_matrices(verdict, sentences, label, probabilities, read, options):
    """A learned verdict's exact decomposition of a text's log-odds: each sentence's share and pair shares are set
    on its SentenceAnswer; returns the text's own fields (runner_up, contribution_bias, top_pairs across sentences)."""
    explained = label if label in verdict.labels else max(probabilities, key=probabilities.get)
    runner_up, bias, shares, pairs = verdict.explain(sentences, explained)
    candidates = []
    for index, (sentence, result, share, matrix) in enumerate(zip(read, sentences, shares, pairs)):
        if options.contributions:
            sentence.share, sentence.document_contributions = float(share), matrix
        if options.top_pairs is not None:
            candidates += [dict(pair, sentence=index) for pair in
                           top_pairs(dict(result, contributions=matrix), options.top_pairs)]
    fields = {"runner_up": runner_up, "contribution_bias": bias} if options.contributions else {}
    if options.top_pairs is not None:
        fields["top_pairs"] = sorted(candidates, key=lambda pair: -abs(pair["contribution"]))[:options.top_pairs]
    return fields


def matrices(result, options):
    """The optional fields of a sentence's answer that the options ask for, from its result."""
    asked = {}
    if options.contributions:
        asked.update(runner_up=result["runner_up"], contribution_bias=result["contribution_bias"])
    if options.top_pairs is not None and "contributions" in result:
        asked["top_pairs"] = top_pairs(result, options.top_pairs)
    if options.tokens:
        asked["tokens"] = result["tokens"]
    if options.attention:
        asked["attention"] = result["attention"]
    if options.contributions:
        asked["contributions"] = result["contributions"]
    return asked


def top_pairs(result, k):
    """The k word pairs of an answer with contributions, largest |contribution| first, among those the attention
    weighed (sparsemax gives most pairs exactly zero: they had no say, and are not listed).

    Each: {"first", "second", "i", "j", "attention", "contribution"}.
    """
    tokens, attention, shares = result["tokens"], result["attention"], result["contributions"]
    pairs = []
    for flat in np.argsort(-np.abs(shares), axis=None, kind="stable"):
        i, j = divmod(int(flat), len(tokens))
        if len(pairs) == k:
            break
        if attention[i, j] == 0:  # a pair the attention did not weigh had no say (sparsemax)
            continue
        pairs.append({"first": tokens[i], "second": tokens[j], "i": i, "j": j, "attention": float(attention[i, j]),
                      "contribution": float(shares[i, j])})
    return pairs


