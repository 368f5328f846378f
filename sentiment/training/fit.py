"""Training: length-bucketed batches, Adam, early stopping on dev accuracy, calibration, an atomic bundle at the end.

`fit` runs five named steps: prepare the data and the word encoder's inputs, build and initialise
the model, run the epochs, average and calibrate, write the bundle. An encoder model
(encoder="minilm") fine-tunes the pretrained encoder end to end beside the relation network:
its own learning rate, linear warm-up and decay, gradient clipping.
"""
import collections
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gluonnlp as nlp
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from sklearn.metrics import f1_score
from tqdm import tqdm

from ..checksums import sha256_file
from ..corpora import datasets
from ..corpora.embeddings import embedding_matrix, load_glove
from ..corpora.pretrained import prepare_encoder
from ..evaluation.metrics import expected_calibration_error, fit_temperature
from ..inference import bundle
from ..inference.device import describe, resolve_device
from ..inference.inputs import PieceInputs, VocabularyInputs
from ..inference.predictor import LEXICON, MAX_PAIRS, PIECE_VOCAB, build_model, log_softmax
from ..model.transformer import config_from_file, gemm_layer_norms, load_safetensors
from ..text.features import lexicon_for, token_table
from ..text.tokenizer import Tokenizer
from ..text.vocabulary import build_vocab
from ..text.wordpiece import WordPieceTokenizer
from . import distil
from .augment import FLIP, negation_counterfactuals

ENCODERS = ("minilm", "glove")

ARCHITECTURE = "relation-network self-attention (Kim 2018)"


@dataclass
class TrainConfig:
    data: list = field(default_factory=lambda: datasets.split_files("train"))  # files or directories
    dev: list = None  # None: our dev files with our data, else a stratified part held out of `data`
    out: str = "models/default"
    # Where the word vectors come from: "minilm", the pretrained encoder fine-tuned end to end (the accurate
    # model), or "glove", GloVe 6B 50d word embeddings (the fast model).
    encoder: str = "minilm"
    encoder_path: str = None  # the encoder's files (model.safetensors, vocab.txt, config.json); None: data/minilm
    epochs: int = None  # None: 10 for GloVe (its best epochs are 6 to 9), 3 for the encoder (dev preferred 3 to 2)
    batch_size: int = None  # None: 64 for GloVe, 32 for the encoder
    lr: float = 1e-3  # the relation network's (and GloVe's embeddings') learning rate
    encoder_lr: float = 5e-5  # the pretrained encoder's
    warmup: float = 0.1  # encoder models: share of the steps with a linear warm-up, then a linear decay to 0
    clip: float = 1.0  # encoder models: the global gradient norm is clipped to this
    freeze_layers: int = 0  # encoder models: the embeddings and this many lower layers stay as pretrained
    word_pooling: str = "mean"  # encoder models: a word's vector is the "mean" of its pieces' states or its "first"
    encoder_dropout: float = 0.1  # encoder models: dropout inside the encoder, as it was pretrained
    max_pieces: int = 128  # encoder models: pieces per sentence (a longer one is read in parts)
    relation: bool = True  # encoder models: False replaces the pair network by a mean over words (an ablation)
    # Distillation (sentiment/training/distil.py): a GloVe model learns from this encoder bundle's answers on a transfer set.
    teacher: str = None
    transfer: tuple = distil.AUGMENTATIONS  # what the transfer set holds beyond the training rows
    transfer_variants: int = 10  # variants drawn per training row (Tang et al. drew 20; bench/README.md)
    distil_temperature: float = 2.0  # the teacher's probabilities are softened at this temperature
    label_weight: float = 0.5  # a row with a true label: its target is this much the label, the rest the teacher's
    counterfactual_label_weight: float = 0.5  # the same for a negation counterfactual, whose label is constructed
    teacher_cache: str = None  # where the teacher's labels are kept; None: data/cache/teacher
    max_len: int = 64
    seed: int = 0
    device: str = None
    embeddings: str = "glove"  # GloVe models: "glove" or "random"
    glove_vocab: int = 50000  # most frequent GloVe words added to the vocabulary, for words unseen in training
    # The word (or piece) embeddings stay as initialised. For the encoder a step is faster, but dev macro-F1 was 0.7
    # points lower (bench/README.md).
    freeze_embeddings: bool = False
    embedding_lr_mult: float = 1.0  # the embeddings learn at lr * this (GloVe's geometry kept for rare words)
    embed_size: int = 50
    hidden_size: int = 64  # 128 measured no better on dev here and 1.9x slower to train
    classifier_size: int = 128
    dropout: float = None  # None: 0.5 for GloVe, 0.1 for the encoder (on the word vectors and the classifier)
    weight_decay: float = 0.0
    patience: int = 3
    average_best: int = 3  # average the weights of the best epochs when that scores at least as well on dev
    min_freq: int = 1
    positions: int = 8  # clip of the signed word offset j - i the pair network sees; 0: order-blind (article)
    attention_scale: float = 8.0  # initial learned inverse temperature of the attention; None: fixed 1 (article)
    lexicon: bool = True  # VADER valence and negation-scope features per token, lexicon words in the vocabulary
    negation: bool = True  # the learned operator on embeddings inside a negation scope (needs lexicon)
    clauses: bool = True  # flag clauses that a later "but" or an "although" overrides (needs lexicon)
    augment_negation: bool = True  # add "not" counterfactuals of training sentences (sentiment/training/augment.py; needs lexicon)
    emoticons: bool = True  # the tokenizer keeps ":)", ":-(", "<3" ... whole; False splits them into characters
    drop_mentions: bool = True  # the tokenizer leaves out @mentions and links; False keeps them
    # Loss weight of a negation counterfactual row, beside its source's. None: 2 for the encoder, which sees them in
    # 3 epochs (dev preferred 2 to 1 and 4, measured with 2 epochs: bench/README.md), 1 for GloVe models (10 epochs).
    counterfactual_weight: float = None
    balance: float = 0.5  # loss weight of a data file's rows ~ (its share of the rows) ** -balance; 0: plain
    class_balance: float = 0.0  # and ~ (its label's share of the rows) ** -class_balance; 0: plain
    select_metric: str = "accuracy"  # epochs are chosen on the mean per-source dev "accuracy" or "macro_f1"
    dev_fraction: float = 0.1  # held out of `data` when no dev file is given
    calibrate: bool = True  # fit a softmax temperature on dev after training
    text_field: str = "text"
    label_field: str = "label"
    # Optional per-row probability that the label is right, used as a soft target. Off by default: on the four
    # corpora, hard labels gave the better mean dev accuracy and calibration (bench/README.md).
    confidence_field: str = None
    # Optional per-row rating (our data: "rating", the raters' mean on -4..+4). Given, the model gains a
    # regression head trained on rating / rating_scale, and its answers' score is read from it. None: "rating"
    # for our data (dev correlated better, bench/README.md), none for other files; "": no head.
    rating_field: str = None
    rating_scale: float = 4.0
    rating_weight: float = 1.0  # the regression loss's weight beside the cross-entropy
    strict: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        glove = self.encoder == "glove"
        self.epochs = (4 if self.teacher else 10 if glove else 3) if self.epochs is None else self.epochs
        self.batch_size = (64 if glove else 32) if self.batch_size is None else self.batch_size
        self.dropout = (0.5 if glove else 0.1) if self.dropout is None else self.dropout
        if self.counterfactual_weight is None:
            self.counterfactual_weight = 1.0 if glove else 2.0
        self.data = datasets.expand_paths(self.data)
        if self.rating_field is None:
            self.rating_field = "rating" if self.uses_default_data else ""
        self.dev = None if self.dev is None else datasets.expand_paths(self.dev)
        for name in ("epochs", "batch_size", "max_len", "embed_size", "hidden_size", "classifier_size", "min_freq",
                     "average_best", "max_pieces"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.positions, int) or self.positions < 0:
            raise ValueError(f"positions must be a non-negative integer, got {self.positions!r}")
        if not self.rating_scale > 0 or not self.rating_weight > 0:
            raise ValueError(f"rating_scale and rating_weight must be positive, got {self.rating_scale!r} and "
                             f"{self.rating_weight!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.attention_scale is not None and not self.attention_scale > 0:
            raise ValueError(f"attention_scale must be positive or None, got {self.attention_scale!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 <= self.balance <= 1 or not 0 <= self.class_balance <= 1:
            raise ValueError(f"balance and class_balance must be in [0, 1], got {self.balance!r} and "
                             f"{self.class_balance!r}")
        if not self.counterfactual_weight >= 0:
            raise ValueError(f"counterfactual_weight must be >= 0, got {self.counterfactual_weight!r}")
        if self.select_metric not in ("accuracy", "macro_f1"):
            raise ValueError(f"select_metric must be 'accuracy' or 'macro_f1', got {self.select_metric!r}")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction!r}")
        if self.negation and not self.lexicon:
            raise ValueError("negation needs lexicon=True (the negation scope comes from the lexicon features)")
        if self.clauses and not self.lexicon:
            raise ValueError("clauses needs lexicon=True (the clause flags are lexicon features)")
        if self.augment_negation and not self.lexicon:
            raise ValueError("augment_negation needs lexicon=True (it finds the words that carry the label there)")
        if self.embeddings not in ("glove", "random"):
            raise ValueError(f"embeddings must be 'glove' or 'random', got {self.embeddings!r}")
        if not 0 <= self.warmup < 1 or not self.clip > 0 or not self.encoder_lr > 0:
            raise ValueError(f"warmup must be in [0, 1), clip and encoder_lr positive, got {self.warmup!r}, "
                             f"{self.clip!r} and {self.encoder_lr!r}")
        if not isinstance(self.freeze_layers, int) or self.freeze_layers < 0:
            raise ValueError(f"freeze_layers must be a non-negative integer, got {self.freeze_layers!r}")
        if self.word_pooling not in ("mean", "first"):
            raise ValueError(f"word_pooling must be 'mean' or 'first', got {self.word_pooling!r}")
        if not glove and self.embeddings != "glove":
            raise ValueError(f"embeddings={self.embeddings!r} is for encoder='glove' (the encoder makes its own vectors)")
        if self.teacher and not glove:
            raise ValueError("teacher is for encoder='glove': the fast model learns from an encoder bundle")
        unknown = set(self.transfer) - set(distil.AUGMENTATIONS)
        if unknown:
            raise ValueError(f"transfer must hold only {distil.AUGMENTATIONS}, got {sorted(unknown)}")
        self.transfer = tuple(self.transfer)
        if not isinstance(self.transfer_variants, int) or self.transfer_variants < 0:
            raise ValueError(f"transfer_variants must be a non-negative integer, got {self.transfer_variants!r}")
        weights = (self.label_weight, self.counterfactual_label_weight)
        if not self.distil_temperature > 0 or not all(0 <= w <= 1 for w in weights):
            raise ValueError(f"distil_temperature must be positive, label_weight and counterfactual_label_weight in "
                             f"[0, 1], got {self.distil_temperature!r} and {weights!r}")
        if glove and self.embeddings == "glove" and self.embed_size != 50:
            raise ValueError(f"embed_size must be 50 with GloVe 6B 50d embeddings, got {self.embed_size}")

    @property
    def uses_default_data(self):
        return self.data == datasets.split_files("train")


Prepared = collections.namedtuple("Prepared", "tokenizer inputs labels vocab lexicon encoder_files train_ids "
                                              "train_targets train_weights train_ratings has_ratings dev_sets "
                                              "initial_weights glove_found sources train_tokens train_sources "
                                              "train_counterfactual")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def predict_logits(model, batches, ctx):
    """(N, C) logits and (N,) labels over fixed evaluation batches."""
    logits, labels = [], []
    for arrays, y in batches:
        logits.append(model(*(mx.nd.array(a, ctx=ctx) for a in arrays))[0].asnumpy())
        labels.append(y)
    return np.concatenate(logits), np.concatenate(labels)


def dev_score(logits, labels, metric="accuracy"):
    """The accuracy of (N, C) logits against (N,) labels (metric="macro_f1": the macro-averaged F1 instead)."""
    predicted = logits.argmax(axis=1)
    return float((predicted == labels).mean() if metric == "accuracy" else f1_score(labels, predicted, average="macro"))


def dev_accuracies(model, dev_sets, ctx, metric="accuracy"):
    """{source: accuracy} on each dev file (metric="macro_f1": the macro-averaged F1 instead)."""
    return {name: dev_score(*predict_logits(model, batches, ctx), metric) for name, batches in dev_sets.items()}


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


def rating_loss(predicted, targets, weights, config, ctx):
    """(B,) weighted squared error of the rating head; rows without a rating (NaN) count 0."""
    known = ~np.isnan(targets)
    target = mx.nd.array(np.clip(np.nan_to_num(targets), -1, 1), ctx=ctx)
    weight = weights.reshape((-1,)) * mx.nd.array(known.astype(np.float32), ctx=ctx) * config.rating_weight
    return weight * mx.nd.square(predicted - target)


def row_weights(sources, labels, counterfactual, config):
    """Per-row loss weights: corpus balancing, times class balancing when asked for (mean 1), then the
    negation counterfactuals' own weight."""
    weights = source_weights(sources, config.balance)
    if config.class_balance:
        weights = weights * source_weights(labels, config.class_balance)
        weights = weights / weights.mean()
    return weights * np.where(counterfactual, config.counterfactual_weight, 1.0)


def average_params(snapshots):
    """Element-wise mean of parameter snapshots ({name: NDArray})."""
    return {name: sum(s[name] for s in snapshots) / len(snapshots) for name in snapshots[0]}


def set_params(params, values):
    for name, p in params.items():
        p.set_data(values[name])


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


def mean_dev_accuracy(model, dev_sets, ctx, metric="accuracy"):
    """The selection score: the mean of the per-source dev accuracies (or macro-F1s), so each source has its say."""
    return float(np.mean(list(dev_accuracies(model, dev_sets, ctx, metric).values())))


def read_sources(paths, config, log, labels=None):
    """[(source name, Labelled)] for each file, names made unique."""
    sources, seen = [], collections.Counter()
    for path in paths:
        name = datasets.source_name(path)
        seen[name] += 1
        labelled = datasets.load_labelled(path, config.text_field, config.label_field, labels=labels,
                                          strict=config.strict, report=log, confidence_field=config.confidence_field,
                                          rating_field=config.rating_field or None)
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
            out.append((name, datasets.Labelled([labelled.texts[i] for i in keep], [labelled.labels[i] for i in keep],
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


def prepare_data(config, log):
    """Read, hold out dev if needed, tokenize, build the vocabulary and the per-token feature table."""
    train_sources = read_sources(config.data, config, log)
    labels = sorted({label for _, labelled, _ in train_sources for label in labelled.labels})
    if len(labels) < 2:
        raise ValueError(f"data must hold at least two labels, found {labels}")
    dev_paths = config.dev if config.dev is not None else (datasets.split_files("dev") if config.uses_default_data
                                                          else None)
    if dev_paths is None:
        train_sources, dev_sources = hold_out(train_sources, config.dev_fraction, config.seed)
        log(f"no --dev given: holding out {config.dev_fraction:.0%} of each --data file as dev "
            f"(stratified, seed {config.seed}): {sum(len(d.texts) for _, d, _ in dev_sources)} rows")
    else:
        dev_sources = read_sources(dev_paths, config, log, labels=set(labels))
    folder = None  # the pretrained encoder's files: given, or fetched and verified at set-up
    if config.encoder == "glove":
        tokenizer = Tokenizer(max_len=config.max_len, emoticons=config.emoticons, drop_mentions=config.drop_mentions)
    else:
        folder = Path(config.encoder_path) if config.encoder_path else prepare_encoder(report=log)
        tokenizer = WordPieceTokenizer(vocab_file=str(folder / "vocab.txt"), max_len=config.max_len,
                                       max_pieces=config.max_pieces, drop_mentions=config.drop_mentions)
    texts = [t for _, labelled, _ in train_sources for t in labelled.texts]
    train_tokens = [tokenizer(t)[0] for t in texts]
    glove = load_glove() if config.encoder == "glove" and config.embeddings == "glove" else None
    lexicon = lexicon_for(tokenizer, datasets.read_lexicon()) if config.lexicon else {}
    extra = list(glove[0][: config.glove_vocab]) if glove else []
    if config.encoder == "glove":
        vocab = build_vocab(train_tokens, config.min_freq, extra + sorted(lexicon))
        inputs = VocabularyInputs(vocab)
    else:
        vocab, inputs = None, PieceInputs(tokenizer, lexicon if config.lexicon else None, config.clauses,
                                          config.word_pooling)
    label_index = {label: i for i, label in enumerate(labels)}
    row_labels = [label for _, labelled, _ in train_sources for label in labelled.labels]
    confidences = [c for _, labelled, _ in train_sources for c in labelled.confidences]
    ratings = [r for _, labelled, _ in train_sources for r in labelled.ratings]
    has_ratings = any(r is not None for r in ratings)
    if config.rating_field and not has_ratings:
        log(f"no rating head: no training row has a {config.rating_field!r} field")
    source_of = [name for name, labelled, _ in train_sources for _ in labelled.texts]
    read = len(train_tokens)  # the rows after these are negation counterfactuals
    if config.augment_negation and not set(FLIP) <= set(labels):
        log(f"no negation counterfactuals: they need the labels {sorted(FLIP)}, the data has {labels}")
    elif config.augment_negation:
        add_counterfactuals(train_tokens, row_labels, confidences, ratings, source_of, lexicon, log)
    ids = [inputs.encode(tokens) for tokens in train_tokens]
    y = [label_index[label] for label in row_labels]
    keep = [i for i, tokens in enumerate(train_tokens) if tokens]
    dev_sets = {name: evaluation_batches(labelled, tokenizer, inputs, labels) for name, labelled, _ in dev_sources}
    matrix, found = (embedding_matrix(vocab, np.random.RandomState(config.seed), glove) if glove else (None, 0))
    kept_sources = [source_of[i] for i in keep]  # counterfactuals count with the source they came from
    sizes = collections.Counter(kept_sources)
    log(f"training on {len(keep)} rows ({', '.join(f'{n} {c}' for n, c in sizes.items())}), "
        f"dev {sum(len(d.texts) for _, d, _ in dev_sources)} rows" + (f", vocabulary {len(vocab)}" if vocab else ""))
    sources = {"train": [_describe(n, d, p) for n, d, p in train_sources],
               "dev": [_describe(n, d, p) for n, d, p in dev_sources]}
    table = token_table(vocab.idx_to_token, lexicon, config.clauses) if config.lexicon and vocab else None
    counterfactual = np.array([i >= read for i in keep], dtype=bool)
    return Prepared(tokenizer, inputs, labels, vocab, lexicon, folder, [ids[i] for i in keep],
                    soft_targets([y[i] for i in keep], [confidences[i] for i in keep], len(labels)),
                    row_weights(kept_sources, [y[i] for i in keep], counterfactual, config),
                    np.array([np.nan if ratings[i] is None else ratings[i] / config.rating_scale for i in keep],
                             dtype=np.float32), has_ratings, dev_sets,
                    {"embedding": matrix, "token_table": table}, found, sources, [train_tokens[i] for i in keep],
                    kept_sources, counterfactual)


def teach(config, prepared, log):
    """The transfer set and the teacher's targets in place of the training rows' own (sentiment/training/distil.py)."""
    from ..inference.predictor import Predictor

    teacher = Predictor.load(config.teacher, device=config.device)
    if teacher.labels != prepared.labels:
        raise ValueError(f"teacher {config.teacher} answers {teacher.labels}, the data has {prepared.labels}")
    extra, extra_sources = distil.transfer_set(prepared.train_tokens, prepared.train_sources, config, load_glove,
                                               prepared.tokenizer)
    tokens, sources = prepared.train_tokens + extra, prepared.train_sources + extra_sources
    log(f"transfer set: {len(prepared.train_tokens)} training rows and {len(extra)} more "
        f"({', '.join(config.transfer) or 'none'}); teacher {teacher.version}")
    labels = distil.TeacherLabels(teacher, config.teacher_cache or distil.CACHE, log)
    taught = labels(tokens)
    targets = distil.soften(taught[:, :-1], config.distil_temperature)
    n = len(prepared.train_tokens)
    weight = np.where(prepared.train_counterfactual, config.counterfactual_label_weight, config.label_weight)[:, None]
    targets[:n] = weight * prepared.train_targets + (1 - weight) * targets[:n]
    ratings = taught[:, -1].copy()  # the teacher's score, on the rating head's scale (rating / rating_scale)
    human = ~np.isnan(prepared.train_ratings)
    ratings[:n][human] = prepared.train_ratings[human]
    described = {"teacher": teacher.version, "path": str(config.teacher), "transfer": list(config.transfer),
                 "rows": len(tokens), "labelled": labels.labelled, "cached": labels.cached,
                 "labelling_seconds": labels.seconds}
    log(f"teacher labels: {labels.labelled} labelled in {labels.seconds}s, {labels.cached} from the cache")
    return prepared._replace(
        train_ids=prepared.train_ids + [prepared.inputs.encode(t) for t in extra],
        train_targets=targets.astype(np.float32), train_ratings=ratings.astype(np.float32),
        train_weights=row_weights(sources, targets.argmax(axis=1).tolist(),
                                  np.concatenate([prepared.train_counterfactual, np.zeros(len(extra), bool)]), config),
        train_tokens=tokens, train_sources=sources, sources={**prepared.sources, "distillation": described})


def _describe(name, labelled, path):
    return {"name": name, "path": str(path), "sha256": sha256_file(path), "rows": len(labelled.texts),
            "bad_rows": len(labelled.bad)}


def build(config, prepared, ctx):
    """The bundle config and an initialised model: GloVe rows and the constant token table filled in, or the
    pretrained encoder's weights loaded."""
    model_config = {"embed_size": config.embed_size, "hidden_size": config.hidden_size,
                    "classifier_size": config.classifier_size, "dropout": config.dropout,
                    "positions": config.positions, "attention_scale": config.attention_scale,
                    "token_features": config.lexicon, "negation": config.negation, "clauses": config.clauses,
                    "rating_head": prepared.has_ratings}
    if config.encoder != "glove":
        sizes = config_from_file(prepared.encoder_files / "config.json")
        model_config.update(encoder=config.encoder, encoder_sizes=sizes, embed_size=sizes["units"],
                            encoder_dropout=config.encoder_dropout, word_pooling=config.word_pooling,
                            relation=config.relation)
    bundle_config = {"labels": prepared.labels, "tokenizer": prepared.tokenizer.to_dict(), "model": model_config,
                     "architecture": ARCHITECTURE}
    model = build_model(bundle_config, len(prepared.vocab) if prepared.vocab else None)
    model.initialize(mx.init.Xavier(), ctx=ctx)
    if config.encoder != "glove":
        load_safetensors(model.words.bert, prepared.encoder_files / "model.safetensors", sizes["num_layers"], ctx)
        freeze_lower(model.words.bert, config.freeze_layers)
        if config.freeze_embeddings:
            model.words.bert.word_embed.collect_params().setattr("grad_req", "null")
        gemm_layer_norms(model.words.bert)  # the same numbers, a backward pass 3x cheaper on the CPU
        for name, p in model.words.collect_params().items():
            p.lr_mult = config.encoder_lr / config.lr
            if name.endswith(("bias", "gamma", "beta")):
                p.wd_mult = 0.0
        model.hybridize(static_alloc=True)
        return bundle_config, model
    encoder = model.encoder
    for name, values in prepared.initial_weights.items():  # GloVe rows; the constant per-token features
        if values is not None:
            getattr(encoder, name).weight.set_data(mx.nd.array(values, ctx=ctx))
    if config.freeze_embeddings:
        encoder.embedding.weight.grad_req = "null"
    encoder.embedding.weight.lr_mult = config.embedding_lr_mult
    model.hybridize(static_alloc=True)
    return bundle_config, model


def freeze_lower(bert, layers):
    """Keep the embeddings and the lowest `layers` transformer layers as pretrained (layers=0: train all)."""
    if not layers:
        return
    frozen = ["word_embed", "token_type_embed", "encoder.position_weight", "encoder.layer_norm"]
    frozen += [f"encoder.transformer_cells.{i}." for i in range(layers)]
    for name, p in bert._collect_params_with_prefix().items():
        if any(name.startswith(f) for f in frozen):
            p.grad_req = "null"


def schedule(step, total, warmup):
    """The learning-rate factor at `step` of `total`: a linear warm-up over `warmup` of the steps, then linear decay."""
    ramp = max(1, int(round(warmup * total)))
    return step / ramp if step < ramp else max(0.0, (total - step) / max(1, total - ramp))


def batch_sampler(lengths, batch_size, fine_tune):
    """Training batches, shuffled every epoch. Encoder models: shuffled pools of 100 batches, each sorted by
    length (an epoch pads 2% of its pieces where 8 length buckets pad 19%); GloVe models: 8 length buckets."""
    if fine_tune:
        return nlp.data.SortedBucketSampler(lengths, batch_size, mult=100, shuffle=True)
    return nlp.data.FixedBucketSampler(lengths, batch_size, num_buckets=8, shuffle=True)


def backward_pass(model, loss_fn, prepared, indices, config, ctx):
    """Forward and backward on the training rows `indices`; returns their (B,) losses."""
    arrays = prepared.inputs.arrays([prepared.train_ids[i] for i in indices])
    y = mx.nd.array(prepared.train_targets[indices], ctx=ctx)
    weights = mx.nd.array(prepared.train_weights[indices], ctx=ctx).reshape((-1, 1))
    with autograd.record():
        outputs = model(*(mx.nd.array(a, ctx=ctx) for a in arrays))
        loss = loss_fn(outputs[0], y, weights)
        if model.rating_head:  # squared error on the rows that have a rating
            loss = loss + rating_loss(outputs[2], prepared.train_ratings[indices], weights, config, ctx)
    loss.backward()
    return loss


def clipped_update(trainer, trainable, rows, clip, ctx):
    """An encoder model's update: the global norm of the mean gradient clipped to `clip`, then Adam."""
    trainer.allreduce_grads()
    gluon.utils.clip_global_norm([p.grad(ctx) for p in trainable.values()], clip * rows)
    trainer.update(rows)


def run_epochs(config, model, prepared, ctx, log):
    """Train with early stopping on the mean of the per-source dev accuracies.

    Returns (history, snapshots): snapshots are the best (score, epoch, parameters), best first.
    """
    params = model.collect_params()
    trainable = {name: p for name, p in params.items() if p.grad_req != "null"}
    fine_tune = config.encoder != "glove"
    trainer = gluon.Trainer(trainable, "adam", {"learning_rate": config.lr, "wd": config.weight_decay})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    inputs = prepared.inputs
    sampler = batch_sampler([inputs.length(ids) for ids in prepared.train_ids], config.batch_size, fine_tune)
    total_steps, step = len(sampler) * config.epochs, 0
    bar = config.progress and sys.stderr.isatty()  # a log file or CI gets one line per epoch instead
    history, snapshots, waited = [], [], 0
    for epoch in range(1, config.epochs + 1):
        epoch_start, total_loss, seen = time.time(), 0.0, 0
        batches = tqdm(sampler, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False, disable=not bar)
        for indices in batches:
            loss = backward_pass(model, loss_fn, prepared, indices, config, ctx)
            if fine_tune:  # warm-up and decay; the global norm of the mean gradient clipped
                step += 1
                trainer.set_learning_rate(config.lr * schedule(step, total_steps, config.warmup))
                clipped_update(trainer, trainable, len(indices), config.clip, ctx)
            else:
                trainer.step(len(indices))
            total_loss += float(loss.sum().asscalar())
            seen += len(indices)
            batches.set_postfix(loss=f"{total_loss / seen:.4f}")
        per_source = dev_accuracies(model, prepared.dev_sets, ctx, config.select_metric)
        score = float(np.mean(list(per_source.values())))
        seconds = time.time() - epoch_start
        history.append({"epoch": epoch, "train_loss": round(total_loss / seen, 5), "dev_accuracy": round(score, 5),
                        "dev_per_source": {k: round(v, 5) for k, v in per_source.items()},
                        "seconds": round(seconds, 2), "sentences_per_second": round(seen / seconds, 1)})
        detail = "  ".join(f"{k} {v:.3f}" for k, v in per_source.items()) if len(per_source) > 1 else ""
        log(f"epoch {epoch}/{config.epochs}: loss {total_loss / seen:.4f}  dev accuracy {score:.4f}  {detail}  "
            f"({seconds:.1f}s)")
        improved = not snapshots or score > snapshots[0][0]
        snapshots.append((score, epoch, {name: p.data().copy() for name, p in params.items()}))
        snapshots = sorted(snapshots, key=lambda s: (-s[0], s[1]))[: config.average_best]
        waited = 0 if improved else waited + 1
        if waited >= config.patience:
            log(f"early stop: dev accuracy has not improved for {config.patience} epochs")
            break
    return history, snapshots


def average_and_calibrate(config, model, prepared, snapshots, ctx, log):
    """Keep the average of the best epochs if dev says it is no worse, else the best epoch; fit the temperature.

    Returns (mean dev score, epochs kept, best epoch, temperature, {source: dev score} of the model kept)."""
    params = model.collect_params()
    best, best_epoch, final_params = snapshots[0]
    kept = [best_epoch]
    if len(snapshots) > 1:
        averaged = average_params([s[2] for s in snapshots])
        set_params(params, averaged)
        averaged_score = mean_dev_accuracy(model, prepared.dev_sets, ctx, config.select_metric)
        epochs = sorted(s[1] for s in snapshots)
        if averaged_score >= best:
            log(f"kept the average of epochs {epochs}: dev accuracy {averaged_score:.4f} "
                f"(best single epoch {best_epoch}: {best:.4f})")
            best, final_params, kept = averaged_score, averaged, epochs
        else:
            log(f"kept the best single epoch {best_epoch} (dev accuracy {best:.4f}): the average of epochs "
                f"{epochs} scored {averaged_score:.4f}")
    set_params(params, final_params)
    dev = {name: predict_logits(model, batches, ctx) for name, batches in prepared.dev_sets.items()}
    temperature = 1.0
    if config.calibrate:
        temperature = fit_temperature(np.concatenate([logits for logits, _ in dev.values()]),
                                      np.concatenate([labels for _, labels in dev.values()]))
        log(f"calibration: softmax temperature {temperature:.3f} (fitted on dev)")
    per_source = {name: dev_score(logits, labels, config.select_metric) for name, (logits, labels) in dev.items()}
    return best, kept, best_epoch, temperature, per_source


def test_figures(model, prepared, temperature, ctx):
    """{corpus: {accuracy, ece}} on our test splits, for a model trained on our data (shown by GET /model)."""
    figures = {}
    for path in datasets.split_files("test"):
        labelled = datasets.load_labelled(path, report=lambda m: None)
        batches = evaluation_batches(labelled, prepared.tokenizer, prepared.inputs, prepared.labels)
        logits, labels = predict_logits(model, batches, ctx)
        probabilities = np.exp(log_softmax(logits / temperature))
        predicted = logits.argmax(axis=1)
        figures[datasets.source_name(path)] = {
            "n": len(labels), "accuracy": round(float((predicted == labels).mean()), 5),
            "macro_f1": round(float(f1_score(labels, predicted, average="macro")), 5),
            "ece": round(expected_calibration_error(probabilities, labels), 5)}
    return figures


def fit(config, log=print):
    """Train on config.data, early-stop on config.dev, write the bundle to config.out. Returns (version, metrics)."""
    started = time.time()
    seed_everything(config.seed)
    ctx = resolve_device(config.device)
    prepared = prepare_data(config, log)
    if config.teacher:
        prepared = teach(config, prepared, log)
    bundle_config, model = build(config, prepared, ctx)
    history, snapshots = run_epochs(config, model, prepared, ctx, log)
    best, kept, best_epoch, temperature, final = average_and_calibrate(config, model, prepared, snapshots, ctx, log)
    bundle_config["temperature"] = round(temperature, 4)
    tests = test_figures(model, prepared, temperature, ctx) if config.uses_default_data else None
    metrics = {
        "best_epoch": best_epoch,
        "epochs_averaged": kept,
        "dev_accuracy": round(best, 5),
        "dev_per_source": {k: round(v, 5) for k, v in final.items()},
        "test_per_source": tests,
        "history": history,
        "train_seconds": round(time.time() - started, 1),
        "device": describe(ctx),
        "train_config": {k: v for k, v in asdict(config).items() if k != "progress"},
        "data": prepared.sources,
    }
    if prepared.vocab is not None:
        metrics.update(vocab_size=len(prepared.vocab), glove_coverage=round(prepared.glove_found / len(prepared.vocab), 4))
        version = bundle.save(config.out, model.save_parameters, prepared.vocab.to_json(), bundle_config, metrics)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            lexicon = Path(tmp) / LEXICON
            lexicon.write_text(json.dumps(prepared.lexicon, sort_keys=True, ensure_ascii=False), encoding="utf-8")
            files = {PIECE_VOCAB: prepared.encoder_files / "vocab.txt", **({LEXICON: lexicon} if config.lexicon else {})}
            version = bundle.save(config.out, model.save_parameters, None, bundle_config, metrics, files)
    log(f"wrote {config.out} (version {version}, mean dev accuracy {best:.4f}, {metrics['train_seconds']}s)")
    return version, metrics
