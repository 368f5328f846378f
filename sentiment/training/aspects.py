"""The aspect heads, trained over a bundle's frozen sentence model on the aspect sets (sentiment.corpora.absa).

Each text is split and read as the predictor reads it (a target is read with its sentence and one either side), once:
`AspectReadings.read` keeps each sentence's word vectors and per-word features from the sentence model's own pass,
on disk under its weights hash, so retraining or measuring the heads reads no text twice. The AspectHead learns
polarity from every target of the three sets; the TargetTagger learns B/I/O tags from SemEval's sentences, with each
sentence's full set of targets. Epochs, and the polarity's temperature, are chosen on dev.
"""
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import mxnet as mx
import numpy as np

from ..corpora.absa import FILES, absa_files, read_sentences
from ..inference import documents
from ..inference.aspects import CONTEXT, FILE, HEAD, LABELS, place, relation_options, window, word_spans
from ..model.aspect import AspectHead, TargetTagger, tag_spans, target_columns
from .readings import sentence_model_key

TAGGER_FILE = "targets.params"
READINGS = "readings-v3"  # the cache's name for this way of reading and placing targets
EXTRACTION_SETS = ("restaurants", "laptops")  # SemEval gives each sentence's full set of targets; the tweets do not
SIZES = {"hidden_size": 64, "classifier_size": 64, "dropout": 0.1, "pairs": "target"}


class AspectReadings:
    """One set's split as the heads read it: sentence units (words (n, E), packed (n, 1 + K)), each unit's text as
    (first unit, last unit + 1), the targets [(unit, word indices, label index)] and each unit's gold B/I/O tags."""

    def __init__(self, source, units, texts, targets, tags, missed=0, radius=CONTEXT):
        self.source, self.units, self.texts, self.targets, self.tags = source, units, texts, targets, tags
        self.missed, self.radius = missed, radius

    def context(self, target):
        """window() of a target: (words (T, E), packed (T, 1 + K), its word indices, ...), with the sentences within
        radius of its own."""
        unit, words, _ = self.targets[target]
        first, end = self.texts[unit]
        return window(self.units[first:end], unit - first, words, self.radius)

    def length(self, target):
        """The words a target's context holds, counted without building it."""
        unit = self.targets[target][0]
        first, end = self.texts[unit]
        inside = range(max(first, unit - self.radius), min(end, unit + self.radius + 1))
        return sum(len(self.units[u][0]) for u in inside)

    @classmethod
    def read(cls, predictor, sentences, source):
        units, texts, targets, tags, missed = [], [], [], [], 0
        plans = [documents.plan(s["text"], predictor.tokenizer) for s in sentences]
        results = iter(predictor.forward_sentences([item for p in plans for item in p.tokenized], attention=False,
                                                   words=True))
        for sentence, plan in zip(sentences, plans):
            first = len(units)
            offsets = word_spans(plan, sentence["text"], plan.tokenized)
            for _ in plan.tokenized:
                result = next(results)
                units.append((result["words"].astype(np.float32), result["packed"].astype(np.float32)))
                texts.append((first, first + len(plan.tokenized)))
                tags.append(np.zeros(len(result["words"]), np.int64))
            for target in sentence["targets"]:
                places = [place(sentence["text"], s, e, plan, offsets) for s, e in target["spans"]]
                places = [p for p in places if p is not None]
                if not places:
                    missed += 1
                    continue
                words = sorted({w for p in places if p.sentence == places[0].sentence for w in p.words})
                targets.append((first + places[0].sentence, tuple(words), LABELS.index(target["label"])))
                for p in places:
                    tags[first + p.sentence][list(p.words)] = 2
                    tags[first + p.sentence][p.words[0]] = 1
        return cls(source, units, texts, targets, tags, missed)

    @classmethod
    def cached(cls, predictor, path, source, cache):
        """read, kept under cache/<source>-READINGS.pkl (cache None: nowhere)."""
        file = None if cache is None else Path(cache) / f"{source}-{READINGS}.pkl"
        if file is not None and file.exists():
            with open(file, "rb") as f:
                return pickle.load(f)
        readings = cls.read(predictor, read_sentences(path), source)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            with open(file, "wb") as f:
                pickle.dump(readings, f, protocol=pickle.HIGHEST_PROTOCOL)
        return readings


def polarity_batch(readings, chosen, ctx):
    """(words (B, T, E), packed (B, T, 1 + K + D), labels (B,)) for targets at `chosen` of a readings, each read
    with its context (inference.aspects.window)."""
    contexts = [readings.context(k) for k in chosen]
    length = max(len(c[0]) for c in contexts)
    width, features = contexts[0][0].shape[1], contexts[0][1].shape[1] + target_columns(1, [0]).shape[1]
    words = np.zeros((len(chosen), length, width), np.float32)
    packed = np.zeros((len(chosen), length, features), np.float32)
    for b, (vectors, rows, target, _, _) in enumerate(contexts):
        words[b, :len(vectors)] = vectors
        packed[b, :len(vectors)] = np.concatenate([rows, target_columns(len(vectors), target)], axis=1)
    labels = np.array([readings.targets[k][2] for k in chosen], np.float32)
    return mx.nd.array(words, ctx=ctx), mx.nd.array(packed, ctx=ctx), mx.nd.array(labels, ctx=ctx)


def tag_batch(readings, chosen, ctx):
    """(words (B, T, E), tags (B, T), mask (B, T)) for units at `chosen`."""
    length = max(len(readings.units[u][0]) for u in chosen)
    width = readings.units[0][0].shape[1]
    words = np.zeros((len(chosen), length, width), np.float32)
    tags, mask = np.zeros((len(chosen), length), np.float32), np.zeros((len(chosen), length), np.float32)
    for b, u in enumerate(chosen):
        n = len(readings.units[u][0])
        words[b, :n], tags[b, :n], mask[b, :n] = readings.units[u][0], readings.tags[u], 1
    return tuple(mx.nd.array(a, ctx=ctx) for a in (words, tags, mask))


def polarity_logits(head, readings, ctx, size=64):
    """(N, 3) logits of the head for every target of a readings (read in passes of similar lengths)."""
    order = sorted(range(len(readings.targets)), key=readings.length)
    out = np.zeros((len(order), len(LABELS)), np.float32)
    for i in range(0, len(order), size):
        chosen = order[i:i + size]
        words, packed, _ = polarity_batch(readings, chosen, ctx)
        out[chosen] = head(words, packed)[0].asnumpy()
    return out


def polarity_figures(logits, labels):
    """{"accuracy", "macro_f1"} of logits against label indices."""
    from ..evaluation.metrics import macro_f1

    predicted = logits.argmax(axis=1)
    return {"accuracy": round(float(np.mean(predicted == labels)), 4),
            "macro_f1": round(float(macro_f1(labels, predicted, list(range(len(LABELS))))), 4)}


def span_figures(found, gold):
    """Precision, recall and F1 of exact span matches: found and gold are sets of (unit, first, end)."""
    hits = len(found & gold)
    precision, recall = hits / max(len(found), 1), hits / max(len(gold), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def extraction_figures(tagger, readings, ctx, size=64):
    found, gold = set(), set()
    for i in range(0, len(readings.units), size):
        chosen = list(range(i, min(i + size, len(readings.units))))
        words, _, _ = tag_batch(readings, chosen, ctx)
        tags = tagger(words).asnumpy().argmax(axis=2)
        for b, u in enumerate(chosen):
            n = len(readings.units[u][0])
            found |= {(u, s, e) for s, e in tag_spans(tags[b, :n])}
            gold |= {(u, s, e) for s, e in tag_spans(readings.tags[u])}
    return span_figures(found, gold)


def bucketed(rng, lengths, batch_size, pool=50):
    """One epoch's batches of indices: shuffled, then sorted by length within pools of `pool` batches, so that a
    batch pads little (the pair grid grows with the longest sentence squared), and the batches shuffled."""
    order = rng.permutation(len(lengths))
    batches = []
    for first in range(0, len(order), pool * batch_size):
        part = sorted(order[first:first + pool * batch_size], key=lambda k: lengths[k])
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train_epochs(block, steps, loss_of, score_of, epochs, lr, log, name):
    """Adam over `steps` (a callable giving one epoch's batches), keeping the parameters of the epoch that dev's
    score_of() likes best; returns (best score, history)."""
    trainer = mx.gluon.Trainer(block.collect_params(), "adam", {"learning_rate": lr, "wd": 1e-4})
    best, kept, history = -1.0, None, []
    for epoch in range(1, epochs + 1):
        started, total, seen = time.time(), 0.0, 0
        for batch in steps():
            with mx.autograd.record():
                loss = loss_of(*batch)
            loss.backward()
            trainer.step(loss.shape[0])
            total, seen = total + float(loss.sum().asscalar()), seen + loss.shape[0]
        score, figures = score_of()
        history.append({"epoch": epoch, "train_loss": round(total / seen, 5), "dev": figures})
        log(f"{name}, epoch {epoch}/{epochs}: loss {total / seen:.4f}  dev {score:.4f}  {figures}  "
            f"({time.time() - started:.1f}s)")
        if score > best:
            # NumPy copies: a convolution's weights may sit in oneDNN's own layout, which cannot be saved as they are
            best, kept = score, {n: p.data().asnumpy() for n, p in block.collect_params().items()}
            history[-1]["chosen"] = True
    for n, p in block.collect_params().items():
        p.set_data(mx.nd.array(kept[n], ctx=p.list_ctx()[0]))
    return best, history


def fit_polarity(train, dev, embed_size, relation_options, sizes=SIZES, epochs=6, batch_size=32, lr=1e-3, seed=0,
                 ctx=mx.cpu(), log=print):
    """An AspectHead trained on every target of train (a list of AspectReadings), its epoch chosen by the mean dev
    macro-F1 over dev's sets; returns (head, {"dev": per-set figures, "history"})."""
    mx.random.seed(seed)
    rng = np.random.RandomState(seed)
    head = AspectHead(embed_size, len(LABELS), **sizes, **relation_options)
    head.initialize(mx.init.Xavier(), ctx=ctx)
    head.hybridize(static_alloc=True)
    cross_entropy = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    lengths = [[r.length(k) for k in range(len(r.targets))] for r in train]

    def epoch_batches():
        steps = [(k, chosen) for k, r in enumerate(train) for chosen in bucketed(rng, lengths[k], batch_size)]
        for k, chosen in [steps[i] for i in rng.permutation(len(steps))]:
            yield polarity_batch(train[k], chosen, ctx)

    def loss_of(words, packed, labels):
        return cross_entropy(head(words, packed)[0], labels)

    def score_of():
        figures = {r.source: polarity_figures(polarity_logits(head, r, ctx), np.array([t[2] for t in r.targets]))
                   for r in dev}
        return float(np.mean([f["macro_f1"] for f in figures.values()])), figures

    best, history = train_epochs(head, epoch_batches, loss_of, score_of, epochs, lr, log, "aspect polarity")
    return head, {"dev_macro_f1": round(best, 4), "history": history}


def fit_tagger(train, dev, embed_size, epochs=20, batch_size=32, lr=1e-3, seed=0, ctx=mx.cpu(), log=print):
    """A TargetTagger on the units of train, its epoch chosen by the mean dev span F1; returns (tagger, figures)."""
    mx.random.seed(seed)
    rng = np.random.RandomState(seed)
    tagger = TargetTagger(embed_size)
    tagger.initialize(mx.init.Xavier(), ctx=ctx)
    tagger.hybridize(static_alloc=True)
    cross_entropy = mx.gluon.loss.SoftmaxCrossEntropyLoss(axis=2)
    lengths = [[len(words) for words, _ in r.units] for r in train]

    def epoch_batches():
        steps = [(k, chosen) for k, r in enumerate(train) for chosen in bucketed(rng, lengths[k], batch_size)]
        for k, chosen in [steps[i] for i in rng.permutation(len(steps))]:
            yield tag_batch(train[k], chosen, ctx)

    def loss_of(words, tags, mask):
        return cross_entropy(tagger(words), tags.expand_dims(axis=2), mask.expand_dims(axis=2))

    def score_of():
        figures = {r.source: extraction_figures(tagger, r, ctx) for r in dev}
        return float(np.mean([f["f1"] for f in figures.values()])), figures

    best, history = train_epochs(tagger, epoch_batches, loss_of, score_of, epochs, lr, log, "target tagger")
    return tagger, {"dev_f1": round(best, 4), "history": history}


def read_sets(predictor, split, sets, cache, log, data_dir=None):
    readings = []
    for name in sets:
        paths = absa_files(split, (name,), data_dir)
        if not paths:
            continue
        path = paths[0]
        begun = time.time()
        readings.append(AspectReadings.cached(predictor, path, f"{name}-{split}", cache))
        log(f"aspects: read {name} {split}: {len(readings[-1].units)} sentences, {len(readings[-1].targets)} targets"
            f" ({readings[-1].missed} not placed; {time.time() - begun:.0f}s)")
    return readings


def add_aspects(bundle_path, sets=tuple(FILES), epochs=6, tagger_epochs=20, seed=0, device=None, log=print,
                cache_dir=None, sizes=SIZES, data_dir=None):
    """Train the aspect heads on the bundle at bundle_path (its sentence model frozen) and write the bundle again
    with them; returns (version, metrics of the aspects).

    sets: the prepared aspect sets under data_dir/absa (sentiment.corpora.absa; default data/) to learn from;
    cache_dir: where their readings are kept, by the sentence model's weights hash (None: nowhere)."""
    from ..evaluation.metrics import fit_temperature
    from ..inference import bundle
    from ..inference.predictor import Predictor

    started = time.time()
    predictor = Predictor.load(bundle_path, device=device, verdict="rules")
    if not predictor.kind.shares_word_vectors:
        raise ValueError("aspects read a pretrained encoder's word vectors: train them on an encoder model's bundle")
    cache = Path(cache_dir) / sentence_model_key(bundle_path) if cache_dir else None
    train, dev = (read_sets(predictor, split, sets, cache, log, data_dir) for split in ("train", "dev"))
    if not train or not dev:
        raise ValueError("no aspect sets found: run `python -m sentiment data --absa DIR` first")
    embed, options = predictor.model.words.units, relation_options(predictor.config)
    head, polarity = fit_polarity(train, dev, embed, options, sizes, epochs, seed=seed, ctx=predictor.ctx, log=log)
    logits = [polarity_logits(head, r, predictor.ctx) for r in dev]
    temperature = fit_temperature(np.concatenate(logits), np.concatenate([[t[2] for t in r.targets] for r in dev]))
    tag_train = [r for r in train if r.source.split("-")[0] in EXTRACTION_SETS]
    tag_dev = [r for r in dev if r.source.split("-")[0] in EXTRACTION_SETS]
    tagger, extraction = (fit_tagger(tag_train, tag_dev, embed, tagger_epochs, seed=seed, ctx=predictor.ctx, log=log)
                          if tag_train and tag_dev else (None, None))
    metrics = dict(predictor.metrics)
    metrics["aspects"] = {"polarity": polarity, "extraction": extraction, "temperature": round(float(temperature), 4),
                          "train_seconds": round(time.time() - started, 1),
                          "data": {r.source: {"sentences": len(r.units), "targets": len(r.targets)} for r in train}}
    metrics["train_seconds"] = round(metrics.get("train_seconds", 0) + time.time() - started, 1)
    loaded = bundle.read(bundle_path, needs=lambda config: ())
    with tempfile.TemporaryDirectory() as folder:
        head.save_parameters(f"{folder}/{FILE}")
        files = {FILE: f"{folder}/{FILE}"}
        entry = {"file": FILE, "sizes": dict(sizes), "temperature": round(float(temperature), 4), "labels": LABELS}
        if tagger is not None:
            tagger.save_parameters(f"{folder}/{TAGGER_FILE}")
            files[TAGGER_FILE] = f"{folder}/{TAGGER_FILE}"
            entry["tagger_file"] = TAGGER_FILE
        config = dict(loaded.config, heads={**loaded.config.get("heads", {}), HEAD: entry})
        kept = {name: path for name, path in loaded.files.items()
                if name not in ("weights.params", "config.json", "metrics.json", bundle.MANIFEST)}
        version = bundle.save(bundle_path, lambda out: shutil.copyfile(loaded.weights, out), None, config, metrics,
                              {**kept, **files})
    log(f"wrote {bundle_path} (version {version}) with its aspect heads ({time.time() - started:.0f}s)")
    return version, metrics["aspects"]

