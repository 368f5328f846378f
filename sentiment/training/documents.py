"""Training the document level on whole reviews, over the sentence model's frozen answers.

The sentence model reads every training text once (sentiment.training.readings, kept on disk); the document head
(sentiment.model.document) then learns, in seconds per epoch, from:
- whole reviews with their authors' labels and ratings (data/reviews, `sentiment data --reviews DIR`, or the
  user's own files of whole texts);
- the project's documents (Amazon reviews and NYT excerpts rebuilt from rated sentences), which alone hold
  neutral texts.
Each source weighs ~ its share ** -0.5 in the loss, as the sentence model's files do. The epoch with the best mean
dev accuracy over the sources is kept, and a softmax temperature is fitted on dev. Then the `mixed` thresholds of
the learned verdict are chosen on the same dev texts: the best mean of each set's exact-label accuracy (a polar
review answered mixed is wrong, a neutral document answered mixed is right: a balanced text's mean rating is near 0)
and the share of balanced texts (a clearly positive and a clearly negative dev sentence) answered mixed.
"""
import shutil
import tempfile
import time
from pathlib import Path

import mxnet as mx
import numpy as np

from ..evaluation.metrics import fit_temperature
from ..inference.review import HEAD, LearnedVerdict
from ..model.document import DocumentHead, DocumentReader, position_buckets
from .readings import LABELS, Encoded, balanced_texts, cached, sentence_model_key, sources

FILE = "document.params"


def batch(encoded, indices, ctx):
    """(vectors (B, S, H), positions (B, S), mask (B, S)) for texts `indices` of one Encoded."""
    longest = max(len(encoded.vectors[i]) for i in indices)
    hidden = encoded.vectors[indices[0]].shape[1]
    vectors = np.zeros((len(indices), longest, hidden), np.float32)
    positions = np.zeros((len(indices), longest), np.float32)
    mask = np.zeros((len(indices), longest), np.float32)
    for b, i in enumerate(indices):
        n = len(encoded.vectors[i])
        vectors[b, :n], positions[b, :n], mask[b, :n] = encoded.vectors[i], position_buckets(n), 1
    return [mx.nd.array(a, ctx=ctx) for a in (vectors, positions, mask)]


def fit_head(train, dev, hidden, epochs=12, batch_size=32, lr=2e-3, rating_weight=1.0, seed=0, ctx=mx.cpu(),
             log=print, pooling="attention"):
    """A DocumentHead trained on the Encoded sets `train`, the epoch chosen on `dev` (mean accuracy over its sets).

    Returns (head, {"epoch", "dev_accuracy", "dev_per_source", "history"}).
    """
    mx.random.seed(seed)
    rng = np.random.default_rng(seed)
    head = DocumentHead(hidden, len(LABELS), pooling=pooling)
    head.initialize(mx.init.Xavier(), ctx=ctx)
    head.hybridize(static_alloc=True)
    trainer = mx.gluon.Trainer(head.collect_params(), "adam", {"learning_rate": lr})
    cross_entropy = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    total = sum(len(e) for e in train)
    weights = {e.source: (len(e) / total) ** -0.5 for e in train}
    norm = sum(weights[e.source] * len(e) for e in train) / total
    steps = [(k, i) for k, e in enumerate(train) for i in range(0, len(e), batch_size)]  # (set, first position)
    best, history, kept, chosen_epoch = -1.0, [], None, 0
    for epoch in range(1, epochs + 1):
        started, seen, total_loss = time.time(), 0, 0.0
        orders = [rng.permutation(len(e)) for e in train]
        for k, first in [steps[i] for i in rng.permutation(len(steps))]:
            e = train[k]
            chosen = orders[k][first:first + batch_size].tolist()
            vectors, positions, mask = batch(e, chosen, ctx)
            labels = mx.nd.array(e.labels[chosen], ctx=ctx)
            ratings = e.ratings[chosen]
            has_rating = mx.nd.array(~np.isnan(ratings), ctx=ctx)
            target = mx.nd.array(np.nan_to_num(ratings), ctx=ctx)
            with mx.autograd.record():
                logits, rating, _ = head(vectors, positions, mask)
                loss = cross_entropy(logits, labels) + rating_weight * has_rating * (rating - target) ** 2
                loss = loss * (weights[e.source] / norm)
            loss.backward()
            trainer.step(len(chosen))
            total_loss += float(loss.sum().asscalar())
            seen += len(chosen)
        figures = {e.source: accuracy(head, e, ctx) for e in dev}
        score = float(np.mean(list(figures.values())))
        history.append({"epoch": epoch, "train_loss": round(total_loss / seen, 5), "dev_accuracy": round(score, 5),
                        "dev_per_source": {k: round(v, 5) for k, v in figures.items()}})
        log(f"document level, epoch {epoch}/{epochs}: loss {total_loss / seen:.4f}  dev accuracy {score:.4f}  "
            + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()) + f"  ({time.time() - started:.1f}s)")
        if score > best:
            best, kept = score, {n: p.data().copy() for n, p in head.collect_params().items()}
            chosen_epoch = epoch
    for name, p in head.collect_params().items():
        p.set_data(kept[name])
    return head, {"epoch": chosen_epoch, "dev_accuracy": round(best, 5), "history": history}


def outputs(head, encoded, ctx, size=64):
    """(logits (N, C), attention per text) of a DocumentHead on every text of an Encoded."""
    logits, attention = [], []
    for i in range(0, len(encoded), size):
        indices = list(range(i, min(i + size, len(encoded))))
        out, _, att = head(*batch(encoded, indices, ctx))
        logits.append(out.asnumpy())
        attention += [a[:len(encoded.vectors[j])] for a, j in zip(att.asnumpy(), indices)]
    return np.concatenate(logits), attention


def accuracy(head, encoded, ctx):
    logits, _ = outputs(head, encoded, ctx)
    return float(np.mean(logits.argmax(axis=1) == encoded.labels))


def exact_accuracy(verdict, encoded):
    """Share of texts (of several sentences) whose learned verdict's label is their own; a neutral text answered
    mixed counts as right."""
    right = 0
    for sentences, label in zip(encoded.sentences, encoded.labels):
        said = verdict(sentences, None, LABELS)[0]
        said = "neutral" if said == "mixed" else said
        right += said == LABELS[label]
    return right / max(len(encoded), 1)


def mixed_rate(verdict, encoded):
    """Share of an Encoded's texts that the verdict answers mixed."""
    return float(np.mean([verdict(s, None, LABELS)[0] == "mixed" for s in encoded.sentences]))


def choose_thresholds(head, dev, balanced, temperature=1.0, log=print):
    """(mixed, margin) of the learned verdict with the best mean of: each dev set's exact accuracy, and the share of
    the balanced texts (an Encoded of balanced_texts, or None) answered mixed."""
    reader = DocumentReader(DocumentReader.weights_of(head))
    multi = [subset(e) for e in dev]
    best = None
    for mixed in (0.2, 0.25, 0.3, 0.35, 0.4, 1.01):
        for margin in (0.2, 0.4, 0.6, 0.8):
            verdict = LearnedVerdict(reader, LABELS, temperature, mixed, margin)
            figures = [exact_accuracy(verdict, e) for e in multi if len(e)]
            figures += [mixed_rate(verdict, balanced)] if balanced is not None else []
            score = float(np.mean(figures))
            if best is None or score > best[0] + 1e-9:
                best = (score, mixed, margin)
    log(f"document level: mixed when each side holds >= {best[1]} of the attention and |p(pos) - p(neg)| < "
        f"{best[2]} (dev exact accuracy {best[0]:.4f})")
    return best[1], best[2]


def subset(encoded):
    """The texts of several sentences of an Encoded (the ones the learned verdict answers)."""
    return encoded.subset([i for i, v in enumerate(encoded.vectors) if len(v) > 1])


def head_entry(head, temperature, mixed, margin, folder):
    """(config["heads"]["document"], {file name: path}) for a bundle: the head's settings and its weights file."""
    path = f"{folder}/{FILE}"
    head.save_parameters(path)
    verdict = LearnedVerdict(None, LABELS, round(float(temperature), 4), mixed, margin)
    return {HEAD: {"file": FILE, **verdict.settings()}}, {FILE: path}


def add_document_level(bundle_path, train_files, dev_files, sentence_dev_files, limit=2000, dev_limit=500, epochs=12,
                       seed=0, device=None, log=print, cache_dir=None, sentence_train_files=(), balanced=0):
    """Train the document level on the bundle at bundle_path (its sentence model frozen) and write the bundle
    again with it; returns (version, metrics of the document level).

    train_files, dev_files: labelled files of whole texts (text, label, and optionally rating in [-1, 1]; the
    project's documents rate on -4..+4); each is sampled to at most limit (dev_limit) texts, seeded.
    sentence_dev_files, sentence_train_files: rated sentences (-4..+4) from which balanced_texts makes the mixed dev
    texts, and `balanced` more for training (neutral, rating 0). Off by default: on dev they taught the head to call
    real reviews mixed (bench/README.md, "Mixed texts").
    cache_dir: where the sentence model's readings of the texts are kept, by sentence_model_key (None: nowhere).
    """
    from ..inference import bundle
    from ..inference.predictor import Predictor

    started = time.time()
    predictor = Predictor.load(bundle_path, device=device, verdict="rules")
    cache = Path(cache_dir) / sentence_model_key(bundle_path) if cache_dir else None
    encoded = {}
    for split, files, cap in (("train", train_files, limit), ("dev", dev_files, dev_limit)):
        encoded[split] = []
        for name, rows, rating_scale in sources(files, cap, seed):
            begun = time.time()
            encoded[split].append(cached(predictor, rows, name, rating_scale, cache, split, cap, seed))
            log(f"document level: read {len(rows)} {split} texts of {name} ({encoded[split][-1].sentence_count} "
                f"sentences, {time.time() - begun:.0f}s)")
    if not encoded["train"] or not encoded["dev"]:
        raise ValueError("the document level needs training and dev texts: none of the files held any")
    rows = balanced_texts(sentence_train_files, count=balanced, seed=seed, rating=0.0) if balanced else []
    if rows:
        encoded["train"].append(Encoded.read(predictor, rows, "balanced texts"))
    head, figures = fit_head(encoded["train"], encoded["dev"], predictor.model.encoder.pair_out._units,
                             epochs=epochs, seed=seed, ctx=predictor.ctx, log=log)
    rows = balanced_texts(sentence_dev_files, seed=seed)
    balanced = Encoded.read(predictor, rows, "balanced") if rows else None
    temperature = fit_temperature(*map(np.concatenate, zip(*[(outputs(head, e, predictor.ctx)[0], e.labels)
                                                              for e in encoded["dev"]])))
    mixed, margin = choose_thresholds(head, encoded["dev"], balanced, temperature, log)
    metrics = dict(predictor.metrics)
    metrics["document_level"] = {
        **figures, "temperature": round(float(temperature), 4), "mixed": mixed, "margin": margin,
        "train_seconds": round(time.time() - started, 1),
        "data": {e.source: {"texts": len(e), "sentences": e.sentence_count} for e in encoded["train"]},
        "dev": {e.source: {"texts": len(e), "sentences": e.sentence_count} for e in encoded["dev"]}}
    metrics["train_seconds"] = round(metrics.get("train_seconds", 0) + time.time() - started, 1)
    loaded = bundle.read(bundle_path, needs=lambda config: ())
    with tempfile.TemporaryDirectory() as folder:
        heads, files = head_entry(head, temperature, mixed, margin, folder)
        config = dict(loaded.config, heads={**loaded.config.get("heads", {}), **heads})
        kept = {name: path for name, path in loaded.files.items()
                if name not in ("weights.params", "config.json", "metrics.json", bundle.MANIFEST)}
        version = bundle.save(bundle_path, lambda out: shutil.copyfile(loaded.weights, out), None, config, metrics,
                              {**kept, **files})
    log(f"wrote {bundle_path} (version {version}) with its document level "
        f"({metrics['document_level']['train_seconds']:.0f}s)")
    return version, metrics["document_level"]
