"""Distillation: the fast GloVe model learns the encoder model's function, not only its labels.

After Tang et al. (2019), "Distilling task-specific knowledge from BERT into simple neural networks":
the transfer set is the training sentences and variants of each, with words masked, words swapped
for one of their nearest GloVe neighbours, and n-gram windows; plus adjacent sentence pairs of the
training documents (the documents' sentences themselves are already training sentences, as the
corpora are split by document). The teacher, an encoder bundle, labels every transfer sentence with
its calibrated probabilities and its score; the labels are cached on disk under the teacher's
version, so a second run (or another ablation) reuses them.

The student's targets: the teacher's probabilities softened at a temperature, mixed with the true
label where a sentence has one; its rating head learns the human rating where there is one and the
teacher's score elsewhere.
"""
import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from ..corpora import datasets

AUGMENTATIONS = ("mask", "swap", "ngram", "documents")
MASK = "[MASK]"  # the teacher reads it as its [MASK] piece; the student as its unknown word
CLITICS = frozenset({"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"})
CACHE = datasets.DATA_DIR / "cache" / "teacher"
LABEL_BLOCK = 4096  # transfer sentences per teacher call (length-sorted inside; a cache part each)


def glove_neighbours(words, glove, k=8, among=50000):
    """{word: its k nearest GloVe words by cosine} for the alphabetic `words` GloVe knows, neighbours
    drawn from its `among` most frequent alphabetic words."""
    vocabulary, vectors = glove
    pool = [i for i in range(min(among, len(vocabulary))) if vocabulary[i].isalpha()]
    pool_words = [vocabulary[i] for i in pool]
    candidates = np.asarray(vectors[pool], dtype=np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True) + 1e-8
    row_of = {w: i for i, w in enumerate(vocabulary)}
    asked = sorted(w for w in set(words) if w.isalpha() and w in row_of)
    result = {}
    for start in range(0, len(asked), 2048):
        block = asked[start:start + 2048]
        queries = np.asarray(vectors[[row_of[w] for w in block]], dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True) + 1e-8
        similarity = queries @ candidates.T
        top = np.argpartition(-similarity, k + 1, axis=1)[:, :k + 1]
        for word, row, indices in zip(block, similarity, top):
            ranked = [pool_words[i] for i in indices[np.argsort(-row[indices])] if pool_words[i] != word]
            result[word] = tuple(ranked[:k])
    return result


def variants(tokens, rng, kinds, neighbours, count=10, p_mask=0.1, p_swap=0.1, p_ngram=0.25, max_ngram=5):
    """Up to `count` distinct variants of one token list (the original excluded), Tang et al.'s scheme.

    Each word is masked with p_mask, else swapped for a random neighbour with p_swap; then, with
    p_ngram, a window of 1 to max_ngram words is kept. `kinds` names the operations in use.
    """
    seen, out = {tuple(tokens)}, []
    for _ in range(count):
        variant = []
        for token in tokens:
            u = rng.random()
            if "mask" in kinds and u < p_mask:
                variant.append(MASK)
            elif "swap" in kinds and u < p_mask + p_swap and token in neighbours:
                variant.append(rng.choice(neighbours[token]))
            else:
                variant.append(token)
        if "ngram" in kinds and rng.random() < p_ngram:
            n = rng.randint(1, min(max_ngram, len(variant)))
            start = rng.randint(0, len(variant) - n)
            variant = variant[start:start + n]
        key = tuple(variant)
        if key not in seen:
            seen.add(key)
            out.append(variant)
    return out


def document_pairs(tokenizer, path):
    """Token lists of each pair of adjacent sentences in the documents of one file (train split)."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            sentences = [s["text"] for s in json.loads(line)["sentences"]]
            for first, second in zip(sentences, sentences[1:]):
                tokens = tokenizer(f"{first} {second}")[0]
                if tokens:
                    pairs.append(tokens)
    return pairs


def detokenize(tokens):
    """Student tokens -> text the teacher's tokenizer reads as the sentence was written ("do n't" -> "don't")."""
    text = ""
    for token in tokens:
        text += token if (token in CLITICS and text) else (" " + token if text else token)
    return text


def teacher_words(teacher, tokens):
    """The teacher's words for student tokens; a masked token stays the one word MASK."""
    words, segment = [], []
    for token in tokens + [MASK]:
        if token == MASK:
            if segment:
                words += teacher.tokenizer.split(detokenize(segment))
            words.append(MASK)
            segment = []
        else:
            segment.append(token)
    words = words[:-1][: teacher.tokenizer.max_len]
    return words or [MASK]


class TeacherLabels:
    """The teacher's (log-probabilities, score) per transfer sentence, cached on disk under its version."""

    def __init__(self, teacher, cache_dir=CACHE, log=print):
        self.teacher, self.log = teacher, log
        self.folder = Path(cache_dir) / teacher.version
        self.known = {}
        for part in sorted(self.folder.glob("part-*.npz")):
            stored = np.load(part, allow_pickle=False)
            self.known.update(zip(stored["keys"].tolist(), stored["values"]))

    @staticmethod
    def key(tokens):
        return hashlib.sha1("\x1f".join(tokens).encode("utf-8")).hexdigest()

    def __call__(self, token_lists):
        """(N, C + 1) float32: the teacher's log-probabilities (its calibrated ones) and its score."""
        keys = [self.key(t) for t in token_lists]
        missing = sorted({k: t for k, t in zip(keys, token_lists) if k not in self.known}.items(),
                         key=lambda item: len(item[1]))
        started, cached = time.time(), sum(k in self.known for k in keys)
        for start in range(0, len(missing), LABEL_BLOCK):
            block = missing[start:start + LABEL_BLOCK]
            answers = self.teacher.forward_sentences([(teacher_words(self.teacher, t), False) for _, t in block],
                                                     attention=False)
            values = np.array([[np.log(max(a["probabilities"][label], 1e-12)) for label in self.teacher.labels]
                               + [a["score"]] for a in answers], dtype=np.float32)
            self.folder.mkdir(parents=True, exist_ok=True)
            part = self.folder / f"part-{len(list(self.folder.glob('part-*.npz'))):05d}.npz"
            np.savez(part, keys=np.array([k for k, _ in block]), values=values)
            self.known.update(zip((k for k, _ in block), values))
            done = start + len(block)
            self.log(f"teacher labels: {done}/{len(missing)} ({done / (time.time() - started):.0f} sentences/s)")
        # labelled: distinct sentences the teacher read now; cached: rows whose label was already on disk
        self.seconds, self.labelled, self.cached = round(time.time() - started, 1), len(missing), cached
        return np.stack([self.known[k] for k in keys])


def soften(log_probabilities, temperature):
    """Rows of probabilities at a temperature: softmax(log p / T)."""
    z = log_probabilities / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def transfer_set(tokens, sources, config, load_glove, tokenizer):
    """(token lists, sources) of the transfer sentences beyond the training rows: variants of each row,
    deduplicated against the rows and each other, and adjacent sentence pairs of the training documents.
    load_glove() gives GloVe's (words, vectors), read only when words are swapped."""
    kinds = config.distillation.transfer
    neighbours = glove_neighbours({t for row in tokens for t in row}, load_glove()) if "swap" in kinds else {}
    seen = {tuple(t) for t in tokens}
    extra, extra_sources = [], []

    def add(sentence, source):
        if tuple(sentence) not in seen:
            seen.add(tuple(sentence))
            extra.append(sentence)
            extra_sources.append(source)

    for index, (row, source) in enumerate(zip(tokens, sources)):
        for variant in variants(row, random.Random(f"{config.optimisation.seed}:{index}"), kinds, neighbours,
                                config.distillation.transfer_variants):
            add(variant, source)
    if "documents" in kinds and config.data.uses_default_data:
        for corpus, path in zip(datasets.BY_DOCUMENT, datasets.document_files("train")):
            for pair in document_pairs(tokenizer, path):
                add(pair, corpus)
    return extra, extra_sources
