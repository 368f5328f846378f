"""Training: length-bucketed batches, Adam, early stopping on dev accuracy, an atomic bundle at the end."""
import collections
import random
import time
from dataclasses import asdict, dataclass

import gluonnlp as nlp
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from . import bundle
from . import data as datasets
from .batching import pad_batch
from .device import describe, resolve_device
from .embeddings import embedding_matrix, load_glove
from .predictor import build_model
from .tokenizer import Tokenizer


@dataclass
class TrainConfig:
    data: str = str(datasets.DATA_DIR / "train.jsonl")
    dev: str = str(datasets.DATA_DIR / "dev.jsonl")
    out: str = "models/default"
    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-3
    max_len: int = 64
    seed: int = 0
    device: str = None
    embeddings: str = "glove"  # or "random"
    glove_vocab: int = 50000  # most frequent GloVe words added to the vocabulary, for words unseen in training
    freeze_embeddings: bool = False
    embedding_lr_mult: float = 1.0  # the embeddings learn at lr * this (GloVe's geometry kept for rare words)
    embed_size: int = 50
    hidden_size: int = 128
    classifier_size: int = 128
    dropout: float = 0.5
    weight_decay: float = 0.0
    patience: int = 3
    average_best: int = 3  # average the weights of the best epochs when that scores at least as well on dev
    min_freq: int = 1
    text_field: str = "text"
    label_field: str = "label"
    confidence_field: str = "confidence"  # optional per-row probability that the label is right: soft targets
    strict: bool = False
    progress: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "max_len", "embed_size", "hidden_size", "classifier_size", "min_freq",
                     "average_best"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.embeddings not in ("glove", "random"):
            raise ValueError(f"embeddings must be 'glove' or 'random', got {self.embeddings!r}")
        if self.embeddings == "glove" and self.embed_size != 50:
            raise ValueError(f"embed_size must be 50 with GloVe 6B 50d embeddings, got {self.embed_size}")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def build_vocab(token_lists, min_freq, extra_words=()):
    """Training tokens seen at least `min_freq` times, plus `extra_words` (frequent GloVe words)."""
    counter = collections.Counter(token for tokens in token_lists for token in tokens)
    counter = collections.Counter({t: c for t, c in counter.items() if c >= min_freq})
    counter.update({word: 1 for word in extra_words if word not in counter})
    return nlp.Vocab(counter, min_freq=1, unknown_token="<unk>", padding_token="<pad>",
                     bos_token=None, eos_token=None)


def accuracy(model, batches, ctx):
    correct = total = 0
    for tokens, mask, labels in batches:
        logits, _ = model(mx.nd.array(tokens, ctx=ctx), mx.nd.array(mask, ctx=ctx))
        correct += int((logits.argmax(axis=1).asnumpy() == labels).sum())
        total += len(labels)
    return correct / total


def soft_targets(label_ids, confidences, num_classes):
    """(N, C) targets: each row's confidence on its label, the rest spread evenly over the other classes."""
    confidences = np.asarray(confidences, dtype=np.float32)
    targets = np.repeat(((1 - confidences) / (num_classes - 1))[:, None], num_classes, axis=1)
    targets[np.arange(len(label_ids)), label_ids] = confidences
    return targets


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


def fit(config, log=print):
    """Train on config.data, early-stop on config.dev, write the bundle to config.out. Returns (version, metrics)."""
    started = time.time()
    seed_everything(config.seed)
    ctx = resolve_device(config.device)
    tokenizer = Tokenizer(max_len=config.max_len)
    texts, label_names, bad_train, confidences = datasets.load_labelled(
        config.data, config.text_field, config.label_field, strict=config.strict, report=log,
        confidence_field=config.confidence_field)
    labels = sorted(set(label_names))
    if len(labels) < 2:
        raise ValueError(f"data must hold at least two labels, found {labels}")
    dev_texts, dev_names, bad_dev, _ = datasets.load_labelled(config.dev, config.text_field, config.label_field,
                                                              labels=set(labels), strict=config.strict, report=log)
    train_tokens = [tokenizer(t)[0] for t in texts]
    glove = load_glove() if config.embeddings == "glove" else None
    vocab = build_vocab(train_tokens, config.min_freq, glove[0][: config.glove_vocab] if glove else ())
    pad_id = vocab[vocab.padding_token]
    label_index = {label: i for i, label in enumerate(labels)}
    train_ids = [vocab[tokens] for tokens in train_tokens]
    train_y = [label_index[name] for name in label_names]
    keep = [i for i, ids in enumerate(train_ids) if ids]
    train_ids = [train_ids[i] for i in keep]
    train_targets = soft_targets([train_y[i] for i in keep], [confidences[i] for i in keep], len(labels))
    dev_ids = [vocab[tokenizer(t)[0]] or [vocab[vocab.unknown_token]] for t in dev_texts]
    dev_y = [label_index[name] for name in dev_names]
    dev_batches = list(make_batches(dev_ids, dev_y, pad_id, 256))

    model_config = {"embed_size": config.embed_size, "hidden_size": config.hidden_size,
                    "classifier_size": config.classifier_size, "dropout": config.dropout}
    bundle_config = {"labels": labels, "tokenizer": tokenizer.to_dict(), "model": model_config,
                     "architecture": "relation-network self-attention (Kim 2018)"}
    model = build_model(bundle_config, len(vocab))
    model.initialize(mx.init.Xavier(), ctx=ctx)
    glove_found = 0
    if glove:
        matrix, glove_found = embedding_matrix(vocab, np.random.RandomState(config.seed), glove)
        model.encoder.embedding.weight.set_data(mx.nd.array(matrix, ctx=ctx))
    if config.freeze_embeddings:
        model.encoder.embedding.weight.grad_req = "null"
    model.encoder.embedding.weight.lr_mult = config.embedding_lr_mult
    model.hybridize(static_alloc=True)
    params = model.collect_params()
    trainer = gluon.Trainer(params, "adam", {"learning_rate": config.lr, "wd": config.weight_decay})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    sampler = nlp.data.FixedBucketSampler([len(ids) for ids in train_ids], config.batch_size,
                                          num_buckets=8, shuffle=True)

    history, snapshots, waited = [], [], 0  # snapshots: (dev accuracy, epoch, parameters), best first
    for epoch in range(1, config.epochs + 1):
        epoch_start, total_loss, seen = time.time(), 0.0, 0
        batches = tqdm(sampler, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False,
                       disable=not config.progress)
        for indices in batches:
            tokens, mask = pad_batch([train_ids[i] for i in indices], pad_id)
            y = mx.nd.array(train_targets[indices], ctx=ctx)
            with autograd.record():
                logits, _ = model(mx.nd.array(tokens, ctx=ctx), mx.nd.array(mask, ctx=ctx))
                loss = loss_fn(logits, y)
            loss.backward()
            trainer.step(len(indices))
            total_loss += float(loss.sum().asscalar())
            seen += len(indices)
            batches.set_postfix(loss=f"{total_loss / seen:.4f}", dev_acc=f"{snapshots[0][0] if snapshots else 0:.4f}")
        dev_acc = accuracy(model, dev_batches, ctx)
        seconds = time.time() - epoch_start
        history.append({"epoch": epoch, "train_loss": round(total_loss / seen, 5), "dev_accuracy": round(dev_acc, 5),
                        "seconds": round(seconds, 2), "sentences_per_second": round(seen / seconds, 1)})
        log(f"epoch {epoch}: loss {total_loss / seen:.4f}  dev accuracy {dev_acc:.4f}  ({seconds:.1f}s)")
        improved = not snapshots or dev_acc > snapshots[0][0]
        snapshots.append((dev_acc, epoch, {name: p.data().copy() for name, p in params.items()}))
        snapshots = sorted(snapshots, key=lambda s: (-s[0], s[1]))[: config.average_best]
        waited = 0 if improved else waited + 1
        if waited >= config.patience:
            log(f"early stop: dev accuracy has not improved for {config.patience} epochs")
            break
    best, best_epoch, final_params = snapshots[0]
    averaged_epochs = [best_epoch]
    if len(snapshots) > 1:  # checkpoint averaging, kept only if dev says it is no worse
        averaged = average_params([s[2] for s in snapshots])
        set_params(params, averaged)
        averaged_accuracy = accuracy(model, dev_batches, ctx)
        epochs = sorted(s[1] for s in snapshots)
        log(f"average of epochs {epochs}: dev accuracy {averaged_accuracy:.4f}")
        if averaged_accuracy >= best:
            best, final_params, averaged_epochs = averaged_accuracy, averaged, epochs
    set_params(params, final_params)

    metrics = {
        "best_epoch": best_epoch,
        "epochs_averaged": averaged_epochs,
        "dev_accuracy": round(best, 5),
        "history": history,
        "train_seconds": round(time.time() - started, 1),
        "device": describe(ctx),
        "train_config": {k: v for k, v in asdict(config).items() if k != "progress"},
        "data": {
            "train": {"path": config.data, "sha256": datasets.sha256_file(config.data), "rows": len(texts),
                      "bad_rows": len(bad_train)},
            "dev": {"path": config.dev, "sha256": datasets.sha256_file(config.dev), "rows": len(dev_texts),
                    "bad_rows": len(bad_dev)},
        },
        "vocab_size": len(vocab),
        "glove_coverage": round(glove_found / len(vocab), 4),
    }
    version = bundle.save(config.out, model.save_parameters, vocab.to_json(), bundle_config, metrics)
    log(f"wrote {config.out} (version {version}, dev accuracy {best:.4f}, {metrics['train_seconds']}s)")
    return version, metrics
