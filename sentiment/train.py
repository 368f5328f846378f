"""Training: length-bucketed batches, Adam, early stopping on dev accuracy, calibration, an atomic bundle at the end.

`fit` runs five named steps: prepare the data and vocabulary, build and initialise the
model, run the epochs, average and calibrate, write the bundle.
"""
import collections
import random
import sys
import time
from dataclasses import asdict, dataclass, field

import gluonnlp as nlp
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from sklearn.metrics import f1_score
from tqdm import tqdm

from . import bundle
from . import data as datasets
from .augment import FLIP, negation_counterfactuals
from .batching import pad_batch
from .device import describe, resolve_device
from .embeddings import embedding_matrix, load_glove
from .evaluation import expected_calibration_error, fit_temperature
from .features import lexicon_for, token_table
from .predictor import build_model, log_softmax
from .tokenizer import Tokenizer
from .vocabulary import build_vocab, token_ids

ARCHITECTURE = "relation-network self-attention (Kim 2018)"


@dataclass
class TrainConfig:
    data: list = field(default_factory=lambda: datasets.split_files("train"))  # files or directories
    dev: list = None  # None: our dev files with our data, else a stratified part held out of `data`
    out: str = "models/default"
    epochs: int = 10  # the default data's best epochs are 6 to 9; 10 keeps training under 6 minutes on 2 cores
    batch_size: int = 64
    lr: float = 1e-3
    max_len: int = 64
    seed: int = 0
    device: str = None
    embeddings: str = "glove"  # or "random"
    glove_vocab: int = 50000  # most frequent GloVe words added to the vocabulary, for words unseen in training
    freeze_embeddings: bool = False
    embedding_lr_mult: float = 1.0  # the embeddings learn at lr * this (GloVe's geometry kept for rare words)
    embed_size: int = 50
    hidden_size: int = 64  # 128 measured no better on dev here and 1.9x slower to train
    classifier_size: int = 128
    dropout: float = 0.5
    weight_decay: float = 0.0
    patience: int = 3
    average_best: int = 3  # average the weights of the best epochs when that scores at least as well on dev
    min_freq: int = 1
    positions: int = 8  # clip of the signed word offset j - i the pair network sees; 0: order-blind (article)
    attention_scale: float = 8.0  # initial learned inverse temperature of the attention; None: fixed 1 (article)
    lexicon: bool = True  # VADER valence and negation-scope features per token, lexicon words in the vocabulary
    negation: bool = True  # the learned operator on embeddings inside a negation scope (needs lexicon)
    clauses: bool = True  # flag clauses that a later "but" or an "although" overrides (needs lexicon)
    augment_negation: bool = True  # add "not" counterfactuals of training sentences (sentiment/augment.py; needs lexicon)
    emoticons: bool = True  # the tokenizer keeps ":)", ":-(", "<3" ... whole; False splits them into characters
    drop_mentions: bool = True  # the tokenizer leaves out @mentions and links; False keeps them
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
        self.data = datasets.expand_paths(self.data)
        if self.rating_field is None:
            self.rating_field = "rating" if self.uses_default_data else ""
        self.dev = None if self.dev is None else datasets.expand_paths(self.dev)
        for name in ("epochs", "batch_size", "max_len", "embed_size", "hidden_size", "classifier_size", "min_freq",
                     "average_best"):
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
        if self.embeddings == "glove" and self.embed_size != 50:
            raise ValueError(f"embed_size must be 50 with GloVe 6B 50d embeddings, got {self.embed_size}")

    @property
    def uses_default_data(self):
        return self.data == datasets.split_files("train")


Prepared = collections.namedtuple("Prepared", "tokenizer labels vocab train_ids train_targets train_weights "
                                              "train_ratings has_ratings dev_sets initial_weights glove_found sources")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def predict_logits(model, batches, ctx):
    """(N, C) logits and (N,) labels over fixed evaluation batches."""
    logits, labels = [], []
    for tokens, mask, y in batches:
        logits.append(model(mx.nd.array(tokens, ctx=ctx), mx.nd.array(mask, ctx=ctx))[0].asnumpy())
        labels.append(y)
    return np.concatenate(logits), np.concatenate(labels)


def dev_accuracies(model, dev_sets, ctx, metric="accuracy"):
    """{source: accuracy} on each dev file (metric="macro_f1": the macro-averaged F1 instead)."""
    result = {}
    for name, batches in dev_sets.items():
        logits, labels = predict_logits(model, batches, ctx)
        predicted = logits.argmax(axis=1)
        result[name] = float((predicted == labels).mean() if metric == "accuracy" else
                             f1_score(labels, predicted, average="macro"))
    return result


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


def row_weights(sources, labels, config):
    """Per-row loss weights with mean 1: corpus balancing, times class balancing when asked for."""
    weights = source_weights(sources, config.balance)
    if config.class_balance:
        weights = weights * source_weights(labels, config.class_balance)
        weights = weights / weights.mean()
    return weights


def average_params(snapshots):
    """Element-wise mean of parameter snapshots ({name: NDArray})."""
    return {name: sum(s[name] for s in snapshots) / len(snapshots) for name in snapshots[0]}


def set_params(params, values):
    for name, p in params.items():
        p.set_data(values[name])


def make_batches(id_lists, labels, pad_id, batch_size):
    """Fixed, length-sorted evaluation batches."""
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        tokens, mask = pad_batch([id_lists[i] for i in chunk], pad_id)
        yield tokens, mask, np.array([labels[i] for i in chunk])


def evaluation_batches(labelled, tokenizer, vocab, labels):
    """Fixed evaluation batches of a Labelled set, tokenized as in training (a text without tokens reads <unk>)."""
    label_index = {label: i for i, label in enumerate(labels)}
    ids = [token_ids(vocab, tokenizer(t)[0]) or [vocab[vocab.unknown_token]] for t in labelled.texts]
    return list(make_batches(ids, [label_index[n] for n in labelled.labels], vocab[vocab.padding_token], 256))


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
    tokenizer = Tokenizer(max_len=config.max_len, emoticons=config.emoticons, drop_mentions=config.drop_mentions)
    texts = [t for _, labelled, _ in train_sources for t in labelled.texts]
    train_tokens = [tokenizer(t)[0] for t in texts]
    glove = load_glove() if config.embeddings == "glove" else None
    lexicon = lexicon_for(tokenizer, datasets.read_lexicon()) if config.lexicon else {}
    extra = list(glove[0][: config.glove_vocab]) if glove else []
    vocab = build_vocab(train_tokens, config.min_freq, extra + sorted(lexicon))
    label_index = {label: i for i, label in enumerate(labels)}
    row_labels = [label for _, labelled, _ in train_sources for label in labelled.labels]
    confidences = [c for _, labelled, _ in train_sources for c in labelled.confidences]
    ratings = [r for _, labelled, _ in train_sources for r in labelled.ratings]
    has_ratings = any(r is not None for r in ratings)
    if config.rating_field and not has_ratings:
        log(f"no rating head: no training row has a {config.rating_field!r} field")
    source_of = [name for name, labelled, _ in train_sources for _ in labelled.texts]
    if config.augment_negation and not set(FLIP) <= set(labels):
        log(f"no negation counterfactuals: they need the labels {sorted(FLIP)}, the data has {labels}")
    elif config.augment_negation:
        add_counterfactuals(train_tokens, row_labels, confidences, ratings, source_of, lexicon, log)
    ids = [token_ids(vocab, tokens) for tokens in train_tokens]
    y = [label_index[label] for label in row_labels]
    keep = [i for i, row in enumerate(ids) if row]
    dev_sets = {name: evaluation_batches(labelled, tokenizer, vocab, labels) for name, labelled, _ in dev_sources}
    matrix, found = (embedding_matrix(vocab, np.random.RandomState(config.seed), glove) if glove else (None, 0))
    kept_sources = [source_of[i] for i in keep]  # counterfactuals count with the source they came from
    sizes = collections.Counter(kept_sources)
    log(f"training on {len(keep)} rows ({', '.join(f'{n} {c}' for n, c in sizes.items())}), "
        f"dev {sum(len(d.texts) for _, d, _ in dev_sources)} rows, vocabulary {len(vocab)}")
    sources = {"train": [_describe(n, d, p) for n, d, p in train_sources],
               "dev": [_describe(n, d, p) for n, d, p in dev_sources]}
    return Prepared(tokenizer, labels, vocab, [ids[i] for i in keep],
                    soft_targets([y[i] for i in keep], [confidences[i] for i in keep], len(labels)),
                    row_weights(kept_sources, [y[i] for i in keep], config),
                    np.array([np.nan if ratings[i] is None else ratings[i] / config.rating_scale for i in keep],
                             dtype=np.float32), has_ratings, dev_sets,
                    {"embedding": matrix,
                     "token_table": token_table(vocab.idx_to_token, lexicon, config.clauses) if config.lexicon else None},
                    found, sources)


def _describe(name, labelled, path):
    return {"name": name, "path": str(path), "sha256": datasets.sha256_file(path), "rows": len(labelled.texts),
            "bad_rows": len(labelled.bad)}


def build(config, prepared, ctx):
    """The bundle config and an initialised model (GloVe rows and the constant token table filled in)."""
    model_config = {"embed_size": config.embed_size, "hidden_size": config.hidden_size,
                    "classifier_size": config.classifier_size, "dropout": config.dropout,
                    "positions": config.positions, "attention_scale": config.attention_scale,
                    "token_features": config.lexicon, "negation": config.negation, "clauses": config.clauses,
                    "rating_head": prepared.has_ratings}
    bundle_config = {"labels": prepared.labels, "tokenizer": prepared.tokenizer.to_dict(), "model": model_config,
                     "architecture": ARCHITECTURE}
    model = build_model(bundle_config, len(prepared.vocab))
    model.initialize(mx.init.Xavier(), ctx=ctx)
    encoder = model.encoder
    for name, values in prepared.initial_weights.items():  # GloVe rows; the constant per-token features
        if values is not None:
            getattr(encoder, name).weight.set_data(mx.nd.array(values, ctx=ctx))
    if config.freeze_embeddings:
        encoder.embedding.weight.grad_req = "null"
    encoder.embedding.weight.lr_mult = config.embedding_lr_mult
    model.hybridize(static_alloc=True)
    return bundle_config, model


def run_epochs(config, model, prepared, ctx, log):
    """Train with early stopping on the mean of the per-source dev accuracies.

    Returns (history, snapshots): snapshots are the best (score, epoch, parameters), best first.
    """
    params = model.collect_params()
    trainable = {name: p for name, p in params.items() if p.grad_req != "null"}
    trainer = gluon.Trainer(trainable, "adam", {"learning_rate": config.lr, "wd": config.weight_decay})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    pad_id = prepared.vocab[prepared.vocab.padding_token]
    sampler = nlp.data.FixedBucketSampler([len(ids) for ids in prepared.train_ids], config.batch_size,
                                          num_buckets=8, shuffle=True)
    bar = config.progress and sys.stderr.isatty()  # a log file or CI gets one line per epoch instead
    history, snapshots, waited = [], [], 0
    for epoch in range(1, config.epochs + 1):
        epoch_start, total_loss, seen = time.time(), 0.0, 0
        batches = tqdm(sampler, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False, disable=not bar)
        for indices in batches:
            tokens, mask = pad_batch([prepared.train_ids[i] for i in indices], pad_id)
            y = mx.nd.array(prepared.train_targets[indices], ctx=ctx)
            weights = mx.nd.array(prepared.train_weights[indices], ctx=ctx).reshape((-1, 1))
            with autograd.record():
                outputs = model(mx.nd.array(tokens, ctx=ctx), mx.nd.array(mask, ctx=ctx))
                loss = loss_fn(outputs[0], y, weights)
                if model.rating_head:  # squared error on the rows that have a rating
                    loss = loss + rating_loss(outputs[2], prepared.train_ratings[indices], weights, config, ctx)
            loss.backward()
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
    """Keep the average of the best epochs if dev says it is no worse, else the best epoch; fit the temperature."""
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
    temperature = 1.0
    if config.calibrate:
        logits, labels = zip(*(predict_logits(model, batches, ctx) for batches in prepared.dev_sets.values()))
        temperature = fit_temperature(np.concatenate(logits), np.concatenate(labels))
        log(f"calibration: softmax temperature {temperature:.3f} (fitted on dev)")
    return best, kept, best_epoch, temperature


def test_figures(model, prepared, temperature, ctx):
    """{corpus: {accuracy, ece}} on our test splits, for a model trained on our data (shown by GET /model)."""
    figures = {}
    for path in datasets.split_files("test"):
        labelled = datasets.load_labelled(path, report=lambda m: None)
        batches = evaluation_batches(labelled, prepared.tokenizer, prepared.vocab, prepared.labels)
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
    bundle_config, model = build(config, prepared, ctx)
    history, snapshots = run_epochs(config, model, prepared, ctx, log)
    best, kept, best_epoch, temperature = average_and_calibrate(config, model, prepared, snapshots, ctx, log)
    bundle_config["temperature"] = round(temperature, 4)
    final = dev_accuracies(model, prepared.dev_sets, ctx, config.select_metric)
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
        "vocab_size": len(prepared.vocab),
        "glove_coverage": round(prepared.glove_found / len(prepared.vocab), 4),
    }
    version = bundle.save(config.out, model.save_parameters, prepared.vocab.to_json(), bundle_config, metrics)
    log(f"wrote {config.out} (version {version}, mean dev accuracy {best:.4f}, {metrics['train_seconds']}s)")
    return version, metrics
