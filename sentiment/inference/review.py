"""The learned verdict: a bundle's document head (sentiment.model.document) answers a text of several sentences.

It reads each sentence's pooled vector from the sentence passes, so a review costs its sentence passes and a
few small NumPy products. Its label is the head's most probable class, or `mixed` when the sentences the head
weighs are split both ways (each side holds at least `mixed` of the attention) and the head itself is unsure
(p(positive) and p(negative) within `margin` of each other). Both thresholds are chosen on dev documents at
training (sentiment.training.documents) and stored in the bundle's config["heads"]["document"].

`explain` gives the exact decomposition: every sentence's share of the text's ln(p[label] / p[runner_up]), every
word pair's share within it, and the bias; the shares and the bias add up to the log-odds.
"""
import numpy as np

from ..model.document import DocumentReader
from .documents import one_sentence

HEAD = "document"


class LearnedVerdict:
    """verdict(sentences, tokenized, labels) -> (label, probabilities, score, weights), as documents.Verdict."""

    def __init__(self, reader, labels, temperature=1.0, mixed=0.3, margin=0.5):
        self.reader, self.labels = reader, list(labels)
        self.temperature, self.mixed, self.margin = float(temperature), float(mixed), float(margin)

    @classmethod
    def from_bundle(cls, entry, weights):
        """entry: config["heads"]["document"]; weights: {name: array} read from its file."""
        return cls(DocumentReader(weights), entry["labels"], entry.get("temperature", 1.0), entry.get("mixed", 0.3),
                   entry.get("margin", 0.5))

    def settings(self):
        return {"labels": self.labels, "temperature": self.temperature, "mixed": self.mixed, "margin": self.margin}

    def read(self, sentences):
        """(probabilities {label: p}, rating, attention (S,)) of a text's sentence results."""
        outputs, attention = self.reader(np.stack([s["vector"] for s in sentences]))
        logits = outputs[:len(self.labels)] / self.temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return dict(zip(self.labels, map(float, p))), float(outputs[len(self.labels)]), attention

    def __call__(self, sentences, tokenized, labels):
        if len(sentences) == 1:
            return one_sentence(sentences[0])
        probabilities, rating, attention = self.read(sentences)
        return self.label(probabilities, sentences, attention), probabilities, float(np.clip(rating, -1, 1)), \
            [float(a) for a in attention]

    def label(self, probabilities, sentences, attention):
        sides = {side: float(sum(a for a, s in zip(attention, sentences) if s["label"] == side))
                 for side in ("positive", "negative")}
        polar = abs(probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0))
        if min(sides.values()) >= self.mixed and polar < self.margin:
            return "mixed"
        return max(probabilities, key=probabilities.get)

    def explain(self, sentences, label):
        """(runner_up, bias, shares (S,), pair shares [(T_s, T_s)]) of ln(p[label] / p[runner_up]) for the text.

        label: the head's class to explain (for a mixed text, the most probable class). The pair shares of
        sentence s sum to shares[s]; the shares and the bias sum to the log-odds, exactly up to rounding.
        """
        probabilities, _, attention = self.read(sentences)
        order = sorted(self.labels, key=lambda k: -probabilities[k])
        runner_up = order[1] if order[0] == label else order[0]
        vectors = np.stack([s["vector"] for s in sentences])
        projection, bias = self.reader.decompose(vectors, attention)
        at, other = self.labels.index(label), self.labels.index(runner_up)
        direction = (projection[:, at] - projection[:, other]) / self.temperature  # (H,)
        shares = attention * (vectors @ direction)
        pairs = [a * (s["pair_vectors"] @ direction) for a, s in zip(attention, sentences)]
        return runner_up, float((bias[at] - bias[other]) / self.temperature), shares, pairs
