"""What the document level learns from: whole texts read once by the sentence model, and kept.

`Encoded.read` runs a set of (text, label, rating) rows through a predictor's sentence passes and keeps each
text's (S, H) pooled sentence vectors and its sentences' labels: all the document head needs. `cached` keeps these
readings on disk under the sentence model's weights hash, so retraining the head, or measuring its design
(bench/quality/document_level.py), reads no text twice. `balanced_texts` makes the dev texts that are mixed by
construction.
"""
import hashlib
import json
import random
from pathlib import Path

import numpy as np

from ..corpora.labelled import load_labelled, source_name

LABELS = ("negative", "neutral", "positive")


def sample(path, limit, seed):
    """Up to `limit` rows of a labelled file of whole texts (text, label, rating or None), a seeded sample."""
    labelled = load_labelled(path, rating_field="rating", report=lambda message: None)
    rows = [(t, label, r) for t, label, r in zip(labelled.texts, labelled.labels, labelled.ratings)
            if label in LABELS]
    if limit and len(rows) > limit:
        rows = random.Random(f"{seed}:{source_name(path)}").sample(rows, limit)
    return rows


class Encoded:
    """A set of texts as the document head reads them: each text's (S, H) sentence vectors and sentence labels,
    its label (an index of LABELS) and its rating in [-1, 1] (NaN: none)."""

    def __init__(self, vectors, sentence_labels, labels, ratings, source):
        self.vectors, self.sentence_labels, self.source = vectors, sentence_labels, source
        self.labels, self.ratings = np.asarray(labels, np.int64), np.asarray(ratings, np.float32)
        self.sentence_count = sum(len(v) for v in vectors)

    @classmethod
    def read(cls, predictor, rows, source, rating_scale=1.0):
        """Every (text, label, rating) row through the predictor's sentence passes (a text of no words is left out)."""
        plans = predictor.preprocess([text for text, _, _ in rows], max_sentences=64, skip_empty=True)
        kept = [(row, plan) for row, plan in zip(rows, plans) if plan is not None]
        results = predictor.forward_sentences([item for _, plan in kept for item in plan.tokenized], attention=False)
        vectors, sentence_labels, at = [], [], 0
        for _, plan in kept:
            part = results[at:at + len(plan.tokenized)]
            at += len(plan.tokenized)
            vectors.append(np.stack([r["vector"] for r in part]).astype(np.float32))
            sentence_labels.append([r["label"] for r in part])
        ratings = [np.nan if r is None else np.clip(r / rating_scale, -1, 1) for (_, _, r), _ in kept]
        return cls(vectors, sentence_labels, [LABELS.index(label) for (_, label, _), _ in kept], ratings, source)

    @property
    def sentences(self):
        """Per text, its sentences as the learned verdict reads them: [{"label", "vector"}]."""
        return [[{"label": label, "vector": v} for label, v in zip(labels, vectors)]
                for labels, vectors in zip(self.sentence_labels, self.vectors)]

    def subset(self, keep):
        return Encoded([self.vectors[i] for i in keep], [self.sentence_labels[i] for i in keep], self.labels[keep],
                       self.ratings[keep], self.source)

    def save(self, path):
        counts = [len(v) for v in self.vectors]
        np.savez(path, vectors=np.concatenate(self.vectors), counts=counts, labels=self.labels, ratings=self.ratings,
                 sentence_labels=np.array([label for labels in self.sentence_labels for label in labels]),
                 source=self.source)

    @classmethod
    def load(cls, path):
        with np.load(path) as saved:
            ends = np.cumsum(saved["counts"])
            vectors = np.split(saved["vectors"], ends[:-1])
            labels = [list(map(str, part)) for part in np.split(saved["sentence_labels"], ends[:-1])]
            return cls(vectors, labels, saved["labels"], saved["ratings"], str(saved["source"]))

    def __len__(self):
        return len(self.labels)


def balanced_texts(paths, count=100, seed=0, rating=None):
    """Texts that are mixed by construction, labelled neutral (with this rating): a clearly positive and a clearly
    negative rated sentence (mean rating at least 2 away from 0 on -4..+4), joined in either order. None of the
    review sets holds mixed texts."""
    rows = [(t, r) for path in paths for t, _, r in sample(path, 0, seed) if r is not None and abs(r) >= 2.0]
    good = [t.strip() for t, r in rows if r > 0 and t.strip()[-1:] in ".!?"]
    bad = [t.strip() for t, r in rows if r < 0 and t.strip()[-1:] in ".!?"]
    if not good or not bad:
        return []
    rng = random.Random(seed)
    pairs = [(rng.choice(good), rng.choice(bad)) for _ in range(count)]
    return [(f"{a} {b}" if k % 2 else f"{b} {a}", "neutral", rating) for k, (a, b) in enumerate(pairs)]


def rating_scale(path):
    """What a file's ratings are divided by to lie in [-1, 1]: the project's documents (data/documents) keep the
    raters' -4..+4, the review sets and users' files are already in [-1, 1]."""
    return 4.0 if Path(path).parent.parent.name == "documents" else 1.0


def sources(files, limit, seed):
    """[(source name, rows, rating scale)] of the files that exist and hold rows."""
    out = []
    for path in files:
        rows = sample(path, limit, seed)
        if rows:
            out.append((source_name(path), rows, rating_scale(path)))
    return out


def sentence_model_key(path):
    """What names a bundle's sentence model in the cache: its weights' SHA-256 (a document level added later keeps
    it), 12 hex digits."""
    from ..inference import bundle

    return bundle.verify(Path(path).resolve())["files"]["weights.params"][:12]


def cached(predictor, rows, name, rating_scale, cache, split, limit, seed):
    """Encoded.read, kept under cache/<source>-<split>-<limit>-<seed>-<hash of the texts>.npz for the next run
    (bench.quality.document_level reads the same sets)."""
    if cache is None:
        return Encoded.read(predictor, rows, name, rating_scale)
    digest = hashlib.sha256(json.dumps([rows, rating_scale]).encode()).hexdigest()[:12]
    path = Path(cache) / f"{name}-{split}-{limit}-{seed}-{digest}.npz"
    if path.exists():
        return Encoded.load(path)
    encoded = Encoded.read(predictor, rows, name, rating_scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded.save(str(path) + ".tmp.npz")
    Path(str(path) + ".tmp.npz").replace(path)
    return encoded
