"""Aspects: which targets a text names, and each one's polarity, from the word pairs about it.

A request names its targets as strings (every whole-word, case-insensitive occurrence), as character spans, or not
at all (`True`: the bundle's TargetTagger finds them). Each target is placed in its sentence and on the model's words
(sentiment.text.offsets); the AspectHead then reads the word vectors of that sentence and the ones either side of it
(`window`), made by the same encoder pass that answered the sentences, with the target's distance columns
(sentiment.model.aspect). Its logits split exactly into one
share per word pair plus a bias, as a sentence's do.
"""
import re
import threading
from dataclasses import replace
from typing import NamedTuple

import mxnet as mx
import numpy as np

from ..model.aspect import AspectHead, ServedAspectGraph, TargetTagger, tag_spans, target_columns
from ..text.offsets import word_offsets
from .forward import unpack
from .kinds import RELATION_OPTIONS

HEAD, FILE = "aspects", "aspects.params"
LABELS = ("negative", "neutral", "positive")
MAX_TARGETS = 64  # entries a text's request may list
CONTEXT = 1  # sentences either side of a target's own that its head reads (dev: bench/README.md)


class AspectError(ValueError):
    """A request's aspects that cannot be answered: text and entry are the indices of the bad one (None: the whole
    request, or the text's whole entry). str() names it as in a request of several texts, aspects[text][entry];
    describe(single=True) as in a request of one text, aspects[entry]."""

    def __init__(self, message, text=None, entry=None):
        self.message, self.text, self.entry = message, text, entry
        super().__init__(self.describe())

    def describe(self, single=False):
        where = "aspects" + ("" if single or self.text is None else f"[{self.text}]")
        return where + ("" if self.entry is None else f"[{self.entry}]") + f": {self.message}"


class Target(NamedTuple):
    """A target to answer: its text and span, its sentence, and the sentence's words it covers. sentence is None
    for a string that does not occur."""
    target: str
    start: object = None
    end: object = None
    sentence: object = None
    words: tuple = ()


def word_spans(plan, text, tokenized):
    """Per sentence of a documents.Plan, each word's (start, end) in text, or None where it cannot be placed."""
    return [word_offsets(text[span.start:span.end], tokens, span.start)
            for span, (tokens, _) in zip(plan.spans, tokenized)]


def covered(start, end, offsets):
    """Indices of the words (their offsets) that overlap [start, end)."""
    return tuple(t for t, o in enumerate(offsets) if o is not None and o[0] < end and o[1] > start)


def place(text, start, end, plan, offsets):
    """Target of text[start:end]: its sentence (the one holding start) and the words it covers there."""
    for k, span in enumerate(plan.spans):
        if span.start <= start < span.end:
            words = covered(start, end, offsets[k])
            if words:
                return Target(text[start:end], start, end, k, words)
    return None


def window(parts, k, words, radius=CONTEXT):
    """A target's context: parts are a text's sentences as (word vectors (n, E), packed (n, 1 + K)), k the target's
    sentence and words its word indices there. Returns (words (T, E), packed (T, 1 + K), target word indices in
    them, first sentence, last sentence + 1): the sentences within radius of k, end to end."""
    first, end = max(0, k - radius), min(len(parts), k + radius + 1)
    shift = sum(len(parts[s][0]) for s in range(first, k))
    return (np.concatenate([parts[s][0] for s in range(first, end)]),
            np.concatenate([parts[s][1] for s in range(first, end)]), tuple(w + shift for w in words), first, end)


def on_boundary(text, at):
    """Whether a character offset falls between words: not inside a run of letters or digits."""
    return at <= 0 or at >= len(text) or not (text[at - 1].isalnum() and text[at].isalnum())


def occurrences(text, phrase):
    """(start, end) of every whole-word, case-insensitive occurrence of phrase in text."""
    pattern = re.compile(r"(?<!\w)" + re.escape(phrase.strip()) + r"(?!\w)", re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if phrase.strip() else []


def requested_targets(text, request, plan, offsets, index=0):
    """A request's targets for one text: a list of strings or {"start", "end"} spans -> [Target] in text order, then
    the strings that do not occur (sentence None). Raises AspectError naming a bad entry."""
    if not isinstance(request, list):
        raise AspectError(f"expected true or a list of strings or {{'start', 'end'}} spans, got {request!r}", index)
    if len(request) > MAX_TARGETS:
        raise AspectError(f"{len(request)} targets asked; at most {MAX_TARGETS} per text", index)
    found, missing = [], []
    for k, entry in enumerate(request):
        if isinstance(entry, str):
            if not entry.strip():
                raise AspectError("an empty target", index, k)
            spans = occurrences(text, entry)
            targets = [t for t in (place(text, s, e, plan, offsets) for s, e in spans) if t is not None]
            if targets:
                found += targets
            else:
                missing.append(Target(entry))
        elif isinstance(entry, dict) and set(entry) == {"start", "end"}:
            start, end = entry["start"], entry["end"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
                raise AspectError(f"start and end must be integers, got {entry!r}", index, k)
            if not 0 <= start < end <= len(text):
                raise AspectError(f"span {start}..{end} is empty or outside the text (0..{len(text)})", index, k)
            if not (on_boundary(text, start) and on_boundary(text, end)):
                raise AspectError(f"span {start}..{end} ({text[start:end]!r}) cuts a word: start and end must fall "
                                  "between words", index, k)
            target = place(text, start, end, plan, offsets)
            if target is None:
                raise AspectError(f"span {start}..{end} ({text[start:end]!r}) holds no word the model reads", index, k)
            found.append(target)
        else:
            raise AspectError(f"expected a string or {{'start': i, 'end': j}}, got {entry!r}", index, k)
    return sorted(found, key=lambda t: (t.start, t.end)) + missing


def relation_options(config):
    """The sentence model's structure options that the aspect head shares (its lexicon features, negation ...)."""
    model = config["model"]
    return {name: model.get(name, default) for name, default in RELATION_OPTIONS.items()}


class AspectModel:
    """A bundle's aspect heads: polarity for given targets and, with a tagger, the targets themselves.

    polarity(items, contributions) with items [(words (n, E), packed (n, 1 + K), target word indices)] -> Pass (its
    logits divided by the temperature); extract(words (n, E)) -> [(first word, last word + 1)].
    """

    def __init__(self, head, tagger, temperature, ctx):
        self.head, self.tagger, self.temperature, self.ctx = head, tagger, temperature, ctx
        self._lock = threading.Lock()  # one pass at a time: a cached graph is not thread-safe (the service's threads)
        self.hidden = head.encoder.pair_out._units
        self.graphs = {flag: ServedAspectGraph(head, flag) for flag in (False, True)}
        for graph in self.graphs.values():
            graph.hybridize(static_alloc=True)
        if tagger is not None:
            tagger.hybridize(static_alloc=True)

    @classmethod
    def from_bundle(cls, entry, files, embed_size, relation_options, ctx):
        """The heads that config["heads"]["aspects"] (entry) names, their weights in files."""
        head = AspectHead(embed_size, len(LABELS), **entry["sizes"], **relation_options)
        head.load_parameters(files[entry["file"]], ctx=ctx)
        tagger = None
        if entry.get("tagger_file"):
            tagger = TargetTagger(embed_size, **entry.get("tagger_sizes", {}))
            tagger.load_parameters(files[entry["tagger_file"]], ctx=ctx)
        return cls(head, tagger, float(entry.get("temperature", 1.0)), ctx)

    def polarity(self, items, contributions=False):
        length = max(len(words) for words, _, _ in items)
        width = items[0][0].shape[1]
        words = np.zeros((len(items), length, width), np.float32)
        packed = np.zeros((len(items), length, items[0][1].shape[1] + target_columns(1, [0]).shape[1]), np.float32)
        for b, (vectors, rows, target) in enumerate(items):
            n = len(vectors)
            words[b, :n] = vectors
            packed[b, :n] = np.concatenate([rows, target_columns(n, target)], axis=1)
        with self._lock:
            out = self.graphs[contributions](mx.nd.array(words, ctx=self.ctx), mx.nd.array(packed, ctx=self.ctx))
            out = out.asnumpy()
        done = unpack(out, len(LABELS), self.hidden, length, contributions)
        if contributions:
            done = done._replace(shares=done.shares / self.temperature, bias=done.bias / self.temperature)
        return done._replace(logits=done.logits / self.temperature)

    def extract(self, words):
        """[(first word, last word + 1)] of the targets the tagger finds in one sentence's word vectors (n, E)."""
        if self.tagger is None:
            return []
        with self._lock:
            tags = self.tagger(mx.nd.array(words[None], ctx=self.ctx)).asnumpy()[0].argmax(axis=1)
        return tag_spans(tags)


def requests_per_text(aspects, count):
    """A request's `aspects` (None, True, or one entry per text) -> one entry per text: None, True or a list.
    Raises AspectError when malformed."""
    if aspects is None or aspects is False:
        return [None] * count
    if aspects is True:
        return [True] * count
    if not isinstance(aspects, list) or len(aspects) != count:
        raise AspectError(f"expected true or a list with one entry per text ({count}), got {aspects!r}")
    return [None if a is False else a for a in aspects]


def targets_of(model, text, request, plan, results, index):
    """The targets of one text: requested (a list) or found by the tagger (True)."""
    offsets = word_spans(plan, text, plan.tokenized)
    if request is not True:
        return requested_targets(text, request, plan, offsets, index)
    found = []
    for k, result in enumerate(results):
        for first, end in model.extract(result["words"]):
            spans = [o for o in offsets[k][first:end] if o is not None]
            if spans:
                start, stop = spans[0][0], spans[-1][1]
                found.append(Target(text[start:stop], start, stop, k, tuple(range(first, end))))
    return found


def answer_aspects(model, texts, plans, results, requests, options, batch=64):
    """Per text, its AspectAnswers in text order (None where none were asked for).

    results: the sentence passes' results (with words), text after text in plan order; requests: per text, None,
    True or a list (requests_per_text).
    """
    from . import documents
    from .answer import AspectAnswer

    asked, at = [], 0  # per text: None, or (its targets, its sentences' results)
    for index, (text, plan, request) in enumerate(zip(texts, plans, requests)):
        own = results[at:at + len(plan.tokenized)]
        at += len(plan.tokenized)
        asked.append(None if request is None else (targets_of(model, text, request, plan, own, index), own))
    items = []  # (its window, its text's sentence results, target) for every target found, text after text
    for entry in asked:
        if entry is not None:
            targets, own = entry
            parts = [(r["words"], r["packed"]) for r in own]
            items += [(window(parts, t.sentence, t.words), own, t) for t in targets if t.sentence is not None]
    answered = []
    for first in range(0, len(items), batch):
        chunk = items[first:first + batch]
        done = model.polarity([w[:3] for w, _, _ in chunk], options.needs_contributions)
        probs = np.exp(done.logits - done.logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        for row, ((_, _, words, begin, end), own, target) in enumerate(chunk):
            tokens = [token for r in own[begin:end] for token in r["tokens"]]
            n = len(tokens)
            probabilities = {label: float(p) for label, p in zip(LABELS, probs[row])}
            fields = dict(target=target.target, found=True, start=target.start, end=target.end,
                          sentence=target.sentence, label=LABELS[int(np.argmax(probs[row]))],
                          probabilities=probabilities,
                          score=float(probabilities["positive"] - probabilities["negative"]),
                          context=[begin, end - 1], target_tokens=list(words))
            read = {"tokens": tokens, "attention": np.ascontiguousarray(done.attention[row, :n, :n])}
            if options.needs_contributions:
                label, runner_up = np.argsort(-probs[row], kind="stable")[:2]
                shares = done.shares[row, :n, :n]
                read.update(contributions=np.ascontiguousarray(shares[:, :, label] - shares[:, :, runner_up]),
                            contribution_bias=float(done.bias[row, label] - done.bias[row, runner_up]),
                            runner_up=LABELS[runner_up])
            matrices = options.attention or options.needs_contributions  # tokens only to read matrices by
            answered.append(AspectAnswer(**fields, **documents.matrices(read, replace(options, tokens=matrices))))
    answered = iter(answered)  # in the order of items: text by text, target by target
    return [None if entry is None else
            [next(answered) if t.sentence is not None else AspectAnswer(target=t.target, found=False)
             for t in entry[0]] for entry in asked]
