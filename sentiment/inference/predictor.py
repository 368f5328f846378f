"""Load a bundle once, then answer texts: the one prediction path of the CLI, the service and the scorer.

As in Hugging Face's pipelines, an answer takes three steps, and every caller goes through `Predictor.__call__`:
- preprocess: each text is split into sentences and tokenized exactly as in training (documents.plan);
- forward: every sentence of every text is scored in length-sorted passes (forward_sentences; the service's
  micro-batcher may share one pass among requests);
- postprocess: each text's verdict over its sentences, as typed answers (documents.answers, answer.py), and with
  `aspects` each target's polarity from the word vectors the same pass made (aspects.answer_aspects).

predict, predict_proba and explain answer a text the same way, whatever its number of sentences, so
they agree with the service: a text of several sentences gets the verdict's label (mixed included) and
probabilities.
"""
import threading

import mxnet as mx
import numpy as np

from . import aspects as aspect_heads
from . import bundle, documents, review
from .answer import Options
from .device import describe, resolve_device
from .kinds import kind_of

# Padded pairs (B*T*T) per forward pass: bounds memory (the pair grid grows with T^2), and at 32k pairs
# (16 MB per H=128 tensor) the pair tensors stay in cache: bench/speed measured this fastest.
MAX_PAIRS = 1 << 15
# What predict, predict_proba and predict_score read of an answer: the verdict alone.
VERDICT_ONLY = Options(attention=False, tokens=False, sentences=False)
VERDICTS = ("learned", "rules")


class EmptyText(ValueError):
    """A text without words, at `index` of the texts asked about."""

    def __init__(self, index):
        super().__init__(f"texts[{index}] has no tokens (empty or whitespace-only text)")
        self.index = index


class Predictor:
    """Answers raw texts exactly as training tokenized them.

    predict / predict_proba as in scikit-learn; explain gives the whole answer as JSON would.
    """

    def __init__(self, model, kind, inputs, tokenizer, labels, ctx, version, config, metrics, max_pairs=MAX_PAIRS,
                 verdict=documents.VERDICT, aspects=None):
        """kind: sentiment.inference.kinds; inputs: its sentiment.inference.inputs; verdict: how a text of several
        sentences is answered from them (the bundle's learned document level, or the hand-set documents.VERDICT);
        aspects: the bundle's aspect heads (inference.aspects.AspectModel), or None."""
        self.model, self.kind, self.inputs, self.tokenizer = model, kind, inputs, tokenizer
        self.labels, self.ctx, self.version, self.config, self.metrics = list(labels), ctx, version, config, metrics
        self.max_pairs, self.verdict, self.aspects = max_pairs, verdict, aspects
        # Calibration: logits are divided by the temperature fitted on dev (1.0 for bundles without one).
        self.temperature = float(config.get("temperature", 1.0))
        self.vocab = getattr(inputs, "vocab", None)  # a GloVe model's word vocabulary
        self.forward = kind.forward(model, ctx, inputs)  # GraphForward(model, ctx) gives the same numbers, slower
        self._lock = threading.Lock()  # one forward pass at a time: CachedOp state is not thread-safe

    @classmethod
    def load(cls, path, device=None, verdict="learned"):
        """Verify and load a bundle; device is 'cpu', 'gpu', 'gpu:N' or None (GPU if present).

        verdict: 'learned' answers texts of several sentences with the bundle's document level when it has one,
        'rules' with the hand-set verdict (documents.VERDICT) whatever the bundle holds.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        ctx = resolve_device(device)
        loaded, kind, tokenizer, inputs, model = load_model(path, ctx)
        kind.for_serving(model, ctx)
        entry = loaded.config.get("heads", {}).get(review.HEAD)
        chosen = documents.VERDICT
        if entry is not None and verdict == "learned":
            weights = {name: a.asnumpy() for name, a in mx.nd.load(loaded.files[entry["file"]]).items()}
            chosen = review.LearnedVerdict.from_bundle(entry, weights)
        entry = loaded.config.get("heads", {}).get(aspect_heads.HEAD)
        aspects = None if entry is None else aspect_heads.AspectModel.from_bundle(
            entry, loaded.files, model.words.units, aspect_heads.relation_options(loaded.config), ctx)
        return cls(model, kind, inputs, tokenizer, loaded.config["labels"], ctx, loaded.manifest["version"],
                   loaded.config, loaded.metrics, verdict=chosen, aspects=aspects)

    @property
    def device(self):
        return describe(self.ctx)

    def tokenize(self, text):
        """(tokens, truncated) exactly as in training."""
        return self.tokenizer(text)

    def __call__(self, texts, options=Options(), forward_sentences=None, max_chars=None,
                 max_sentences=documents.MAX_SENTENCES, skip_empty=False, aspects=None):
        """One TextAnswer per text (sentiment.inference.answer).

        forward_sentences: the forward step, self.forward_sentences by default (the service's micro-batcher
        passes its own, which shares passes among requests).
        max_chars: texts are clipped to this many characters first (flagged truncated). A text without
        words raises EmptyText; with skip_empty=True its answer is None instead.
        aspects: True (the targets are found), or one entry per text: True, None, or a list of target strings and
        {"start", "end"} spans; each answer then holds its `aspects`. Raises AspectError for a malformed entry
        or a bundle without aspect heads.
        """
        requests = aspect_heads.requests_per_text(aspects, len(texts) if isinstance(texts, list) else 1)
        asked = any(r is not None for r in requests)
        if asked and self.aspects is None:
            raise aspect_heads.AspectError(f"model {self.version} has no aspect heads: use a bundle trained with them "
                                           "(python -m sentiment aspect-level)")
        plans = self.preprocess(texts, max_chars, max_sentences, skip_empty)
        planned = [p for p in plans if p is not None]
        flat = [item for p in planned for item in p.tokenized]
        forward = forward_sentences or self.forward_sentences
        results = forward(flat, attention=options.attention, contributions=options.needs_contributions, words=asked)
        kept = [t for t, p in zip(texts, plans) if p is not None]
        answers = self.postprocess(results, planned, kept, options)
        if asked:
            found = aspect_heads.answer_aspects(self.aspects, kept, planned, results,
                                                [r for r, p in zip(requests, plans) if p is not None], options)
            for answer, targets in zip(answers, found):
                answer.aspects = targets
        answers = iter(answers)
        return [None if p is None else next(answers) for p in plans]

    def preprocess(self, texts, max_chars=None, max_sentences=documents.MAX_SENTENCES, skip_empty=False):
        """A documents.Plan per text (None for a text without words when skip_empty)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single string")
        plans = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{index}] must be a string, got {type(text).__name__}")
            clipped = max_chars is not None and len(text) > max_chars
            try:
                plans.append(documents.plan(text[:max_chars] if clipped else text, self.tokenizer, max_sentences,
                                            clipped))
            except ValueError:
                if not skip_empty:
                    raise EmptyText(index) from None
                plans.append(None)
        return plans

    def postprocess(self, results, plans, texts, options):
        answers = documents.answers(results, plans, texts, self.labels, options, self.verdict)
        if options.model:
            for answer in answers:
                answer.model = self.version
        return answers

    def predict_proba(self, texts):
        """(N, C) class probabilities of each text's answer, columns in the order of `labels`."""
        answers = self(texts, VERDICT_ONLY)
        return np.array([[a.probabilities[label] for label in self.labels] for a in answers])

    def predict(self, texts):
        """Each text's label: one of `labels`, or mixed for a text of several sentences that is."""
        return [a.label for a in self(texts, VERDICT_ONLY)]

    def predict_score(self, texts):
        """(N,) scores in [-1, 1]: the rating head's reading, or p(positive) - p(negative) for a model without one."""
        answers = self(texts, VERDICT_ONLY)
        return np.array([a.score for a in answers], dtype=float)

    def explain(self, texts, attention=True, contributions=False, top_pairs=5):
        """One dict per text, as the service answers it (the fields of sentiment.inference.answer.TextAnswer).

        attention[i][j] weighs the pair (tokens[i], tokens[j]); each sentence's matrix sums to 1.
        contributions=True adds each pair's exact signed share of the log-odds of the label against the
        runner-up class: contributions[i][j] plus contribution_bias equal ln(p[label] / p[runner_up]).
        """
        options = Options(attention=attention, contributions=contributions,
                          top_pairs=top_pairs if contributions else None)
        return [answer.to_dict() for answer in self(texts, options)]

    def forward_sentences(self, tokenized, attention=True, contributions=False, words=False):
        """The forward step: one dict per sentence of [(tokens, truncated), ...] (each with a token).

        Each: label, probabilities, score, tokens, truncated, unknown_tokens, vector (H,) (the pooled vector, from
        the served passes); attention (T, T) with attention or contributions; contributions (T, T),
        contribution_bias, runner_up and pair_vectors (T, T, H) with contributions; with words (an encoder model's
        pass), words (T, E), the encoder's word vectors, and packed (T, 1 + K), the mask and per-word features.
        score is the rating head's reading, clipped to [-1, 1], or p(positive) - p(negative).
        """
        results = [None] * len(tokenized)
        encoded = [self.inputs.encode(tokens) for tokens, _ in tokenized]
        classes = len(self.labels)
        for chunk in self.inputs.chunks(encoded, self.max_pairs):
            ids = [encoded[i] for i in chunk]
            arrays = self.inputs.arrays(ids)
            with self._lock:
                done = self.forward(*arrays, contributions, words)
            logits, att, shares, bias = done.logits, done.attention, done.shares, done.bias
            rating = logits[:, classes] if self.model.rating_head else None
            probs = np.exp(log_softmax(logits[:, :classes] / self.temperature))
            if contributions:
                shares, bias = shares / self.temperature, bias / self.temperature
            for row, i in enumerate(chunk):
                toks, truncated = tokenized[i]
                n = len(toks)
                probabilities = {label: float(p) for label, p in zip(self.labels, probs[row])}
                result = {"label": self.labels[int(np.argmax(probs[row]))], "probabilities": probabilities,
                          "score": (float(np.clip(rating[row], -1.0, 1.0)) if rating is not None
                                    else polarity_score(probabilities)),
                          "tokens": toks, "truncated": truncated, "unknown_tokens": self.inputs.unknown(toks, ids[row])}
                if attention or contributions:
                    result["attention"] = np.ascontiguousarray(att[row, :n, :n])
                if done.sentence is not None:  # what a document level reads
                    result["vector"] = done.sentence[row]
                if words:
                    result["words"], result["packed"] = done.words[row, :n], arrays[-1][row, :n]
                if done.pair_vectors is not None:
                    result["pair_vectors"] = done.pair_vectors[row, :n, :n]
                if contributions:
                    label, runner_up = np.argsort(-probs[row], kind="stable")[:2]
                    pair_shares = shares[row, :n, :n]
                    result["contributions"] = np.ascontiguousarray(pair_shares[:, :, label]
                                                                   - pair_shares[:, :, runner_up])
                    result["contribution_bias"] = float(bias[row, label] - bias[row, runner_up])
                    result["runner_up"] = self.labels[runner_up]
                results[i] = result
        return results


def polarity_score(probabilities):
    """p(positive) - p(negative) in [-1, 1]: how strongly, and which way; 0 for a sure neutral.

    A label set without "positive" or "negative" counts the missing one as 0; with neither, None.
    """
    if "positive" not in probabilities and "negative" not in probabilities:
        return None
    return float(probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0))


def log_softmax(logits):
    """Row-wise log-softmax of a (B, C) numpy array."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def load_model(path, ctx):
    """A verified bundle, its kind, tokenizer and inputs, and its model with the trained parameters on ctx, as
    training left it (Predictor.load then prepares it for answers only)."""
    loaded = bundle.read(path, needs=lambda config: kind_of(config).needed_files(config))
    kind = kind_of(loaded.config)
    tokenizer = kind.tokenizer(loaded.config, loaded.files)
    inputs = kind.inputs(loaded.config, tokenizer, loaded.files, loaded.vocab_json)
    model = kind.model(loaded.config, inputs.vocab_size)
    model.load_parameters(loaded.weights, ctx=ctx)
    return loaded, kind, tokenizer, inputs, model
