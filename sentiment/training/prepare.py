"""Training's first step: read the files, hold out dev if needed, tokenize, and make each row's inputs and targets.

What depends on the kind of word vectors (the tokenizer, the vocabulary, the pretrained folder) is asked
of config.kind (sentiment.inference.kinds); the rest is the same for every kind.
"""
import collections
from dataclasses import dataclass, replace

import numpy as np

from ..checksums import sha256_file
from ..corpora import datasets
from ..corpora.embeddings import embedding_matrix, load_glove
from ..corpora.labelled import Labelled, load_labelled, source_name
from ..corpora.pretrained import prepare_encoder
from ..inference.predictor import MAX_PAIRS
from ..text.features import lexicon_for, token_table
from .augment import FLIP, negation_counterfactuals


@dataclass(frozen=True)
class Prepared:
    """Everything training reads, built once. Per training row, in order: train_ids (the kind's inputs),
    train_targets (N, C), train_weights (N,), train_ratings (N,) (rating / scale, NaN without one),
    train_tokens, train_sources and train_counterfactual (N,) bool."""
    tokenizer: object
    inputs: object
    labels: list
    vocab: object  # a GloVe model's vocabulary, else None
    lexicon: dict
    encoder_files: object  # the pretrained encoder's folder, else None
    train_ids: list
    train_targets: np.ndarray
    train_weights: np.ndarray
    train_ratings: np.ndarray
    has_ratings: bool
    dev_sets: dict  # {source: [(input arrays, labels)]}
    initial_weights: dict  # {"embedding": GloVe rows or None, "token_table": per-token features or None}
    glove_found: int
    sources: dict  # what trained it, as metrics.json records it
    train_tokens: list
    train_sources: list
    train_counterfactual: np.ndarray

    def replace(self, **changes):
        return replace(self, **changes)


def soft_targets(label_ids, confidences, num_classes):
    """(N, C) targets: each row's confidence on its label, the rest spread evenly over the other classes."""
    confidences = np.asarray(confidences, dtype=np.float32)
    targets = np.repeat(((1 - confidences) / (num_classes - 1))[:, None], num_classes, axis=1)
    targets[np.arange(len(label_ids)), label_ids] = confidences
    return targets


def source_weights(sources, balance):
    """Per-row loss weights ~ (share of the row's source) ** -balance, with mean 1: small corpora get their say."""
    counts = collections.Counter(sources)
    raw = np.array([(counts[s] / len(sources)) ** -balance for s in sources], dtype=np.float32)
    return raw / raw.mean()


def row_weights(sources, labels, counterfactual, config):
    """Per-row loss weights: corpus balancing, times class balancing when asked for (mean 1), then the
    negation counterfactuals' own weight."""
    weights = source_weights(sources, config.optimisation.balance)
    if config.optimisation.class_balance:
        weights = weights * source_weights(labels, config.optimisation.class_balance)
        weights = weights / weights.mean()
    return weights * np.where(counterfactual, config.augmentation.counterfactual_weight, 1.0)


def make_batches(encoded, labels, inputs):
    """Fixed evaluation batches, sorted by length and bounded in padded size as the predictor's passes are
    (an encoder model's dev pass: 1.5x faster than batches of 256): (the model's input arrays, labels)."""
    for chunk in inputs.chunks(encoded, MAX_PAIRS):
        yield inputs.arrays([encoded[i] for i in chunk]), np.array([labels[i] for i in chunk])


def evaluation_batches(labelled, tokenizer, inputs, labels):
    """Fixed evaluation batches of a Labelled set, tokenized as in training (a text without words reads as
    the unknown word)."""
    label_index = {label: i for i, label in enumerate(labels)}
    encoded = [inputs.encode(tokenizer(t)[0] or [inputs.unknown_word]) for t in labelled.texts]
    return list(make_batches(encoded, [label_index[n] for n in labelled.labels], inputs))


def read_sources(paths, data, log, labels=None):
    """[(source name, Labelled, path)] for each file, names made unique; data: the DataConfig."""
    sources, seen = [], collections.Counter()
    for path in paths:
        name = source_name(path)
        seen[name] += 1
        labelled = load_labelled(path, data.text_field, data.label_field, labels=labels,
                                          strict=data.strict, report=log, confidence_field=data.confidence_field,
                                          rating_field=data.rating_field or None)
        sources.append((name if seen[name] == 1 else f"{name}#{seen[name]}", labelled, path))
    return sources


def hold_out(sources, fraction, seed):
    """Split each source's rows, stratified by label, into (train sources, dev sources)."""
    train, dev = [], []
    for name, labelled, path in sources:
        rows = [{"i": i, "label": label} for i, label in enumerate(labelled.labels)]
        parts = datasets.stratified_split(rows, {"train": 1 - fraction, "dev": fraction}, seed=seed)
        for out, part in ((train, parts["train"]), (dev, parts["dev"])):
            keep = sorted(row["i"] for row in part)
            out.append((name, Labelled([labelled.texts[i] for i in keep], [labelled.labels[i] for i in keep],
                                                labelled.bad, [labelled.confidences[i] for i in keep],
                                                [labelled.ratings[i] for i in keep]), path))
    return train, dev


def add_counterfactuals(token_lists, labels, confidences, ratings, sources, lexicon, log):
    """Append the negation counterfactuals of the training rows to the five per-row lists, in place.

    Each keeps the confidence and the source of the row it came from, so corpus balancing counts it there.
    It has no rating: how far "not amazing" lies from 0 is not known, so the rating head does not learn from it.
    """
    added = negation_counterfactuals(token_lists, labels, lexicon)
    for index, tokens, label in added:
        token_lists.append(tokens)
        labels.append(label)
        confidences.append(confidences[index])
        ratings.append(None)
        sources.append(sources[index])
    log(f"negation counterfactuals: {len(added)} rows added to training")


def describe(name, labelled, path):
    return {"name": name, "path": str(path), "sha256": sha256_file(path), "rows": len(labelled.texts),
            "bad_rows": len(labelled.bad)}


def prepare_data(config, log):
    """Read, hold out dev if needed, tokenize, build the vocabulary and the per-token feature table."""
    data, kind = config.data, config.kind
    train_sources = read_sources(data.data, data, log)
    labels = sorted({label for _, labelled, _ in train_sources for label in labelled.labels})
    if len(labels) < 2:
        raise ValueError(f"data must hold at least two labels, found {labels}")
    dev_paths = data.dev if data.dev is not None else (datasets.split_files("dev") if data.uses_default_data
                                                      else None)
    if dev_paths is None:
        train_sources, dev_sources = hold_out(train_sources, data.dev_fraction, config.optimisation.seed)
        log(f"no --dev given: holding out {data.dev_fraction:.0%} of each --data file as dev "
            f"(stratified, seed {config.optimisation.seed}): {sum(len(d.texts) for _, d, _ in dev_sources)} rows")
    else:
        dev_sources = read_sources(dev_paths, data, log, labels=set(labels))
    folder = kind.pretrained_folder(config, lambda: prepare_encoder(report=log))
    tokenizer = kind.new_tokenizer(config, folder)
    texts = [t for _, labelled, _ in train_sources for t in labelled.texts]
    train_tokens = [tokenizer(t)[0] for t in texts]
    glove = load_glove() if kind.own_embeddings and config.words.embeddings == "glove" else None
    lexicon = lexicon_for(tokenizer, datasets.read_lexicon()) if config.model.lexicon else {}
    vocab, inputs = kind.new_inputs(config, tokenizer, train_tokens, lexicon, glove)
    label_index = {label: i for i, label in enumerate(labels)}
    row_labels = [label for _, labelled, _ in train_sources for label in labelled.labels]
    confidences = [c for _, labelled, _ in train_sources for c in labelled.confidences]
    ratings = [r for _, labelled, _ in train_sources for r in labelled.ratings]
    has_ratings = any(r is not None for r in ratings)
    if data.rating_field and not has_ratings:
        log(f"no rating head: no training row has a {data.rating_field!r} field")
    source_of = [name for name, labelled, _ in train_sources for _ in labelled.texts]
    read = len(train_tokens)  # the rows after these are negation counterfactuals
    if config.augmentation.augment_negation and not set(FLIP) <= set(labels):
        log(f"no negation counterfactuals: they need the labels {sorted(FLIP)}, the data has {labels}")
    elif config.augmentation.augment_negation:
        add_counterfactuals(train_tokens, row_labels, confidences, ratings, source_of, lexicon, log)
    ids = [inputs.encode(tokens) for tokens in train_tokens]
    y = [label_index[label] for label in row_labels]
    keep = [i for i, tokens in enumerate(train_tokens) if tokens]
    dev_sets = {name: evaluation_batches(labelled, tokenizer, inputs, labels) for name, labelled, _ in dev_sources}
    seed = config.optimisation.seed
    matrix, found = (embedding_matrix(vocab, np.random.RandomState(seed), glove) if glove else (None, 0))
    kept_sources = [source_of[i] for i in keep]  # counterfactuals count with the source they came from
    sizes = collections.Counter(kept_sources)
    log(f"training on {len(keep)} rows ({', '.join(f'{n} {c}' for n, c in sizes.items())}), "
        f"dev {sum(len(d.texts) for _, d, _ in dev_sources)} rows" + (f", vocabulary {len(vocab)}" if vocab else ""))
    counterfactual = np.array([i >= read for i in keep], dtype=bool)
    table = token_table(vocab.idx_to_token, lexicon, config.model.clauses) if config.model.lexicon and vocab else None
    return Prepared(
        tokenizer=tokenizer, inputs=inputs, labels=labels, vocab=vocab, lexicon=lexicon, encoder_files=folder,
        train_ids=[ids[i] for i in keep],
        train_targets=soft_targets([y[i] for i in keep], [confidences[i] for i in keep], len(labels)),
        train_weights=row_weights(kept_sources, [y[i] for i in keep], counterfactual, config),
        train_ratings=np.array([np.nan if ratings[i] is None else ratings[i] / data.rating_scale for i in keep],
                               dtype=np.float32),
        has_ratings=has_ratings, dev_sets=dev_sets, initial_weights={"embedding": matrix, "token_table": table},
        glove_found=found,
        sources={"train": [describe(n, d, p) for n, d, p in train_sources],
                 "dev": [describe(n, d, p) for n, d, p in dev_sources]},
        train_tokens=[train_tokens[i] for i in keep], train_sources=kept_sources, train_counterfactual=counterfactual)
