"""Quality in one run, every system on the same splits: three-way, polar, score, calibration, behaviour.

For each system, per corpus (movie, amazon, nyt, tweets):
- three-way accuracy and macro-F1 on the test splits (labels from the mean rating, neutral band
  sentiment.corpora.datasets.NEUTRAL_BAND), and the mean dev macro-F1;
- the polar view: the test sentences with a non-zero mean rating, labelled by its sign (exactly
  the sentences of the earlier two-way splits), predicted by the larger of p(positive) and
  p(negative) (VADER: compound >= 0.05);
- the score: Pearson r of p(positive) - p(negative) (VADER: its compound) with the mean rating;
- the behaviour suite (sentiment/evaluation/behaviour.py), neutral statements included.

Systems: the default model (--model); the fast model (--fast, distilled from it); the earlier
two-way GloVe recipe, retrained here on the polar view of the same training and dev sentences; the
GloVe model trained on labels alone, the distillation's sources added one at a time (the default
model teaching), and ablations of the encoder default and of the GloVe model, each trained here
(--ablation TEXT picks rows by name);
TF-IDF + LR trained three-way on the same splits; VADER's compound score with its +-0.05 band.
Also: the default's expected calibration error per test split, and each corpus held out entirely.

    python -m bench.quality.accuracy [--model models/default] [--fast models/fast] [--also BUNDLE ...] [--skip-two-way]
                             [--skip-ablations | --ablation TEXT ...]
                             [--skip-held-out]
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.provenance import stamp
from sentiment.cli import ARTICLE_STRUCTURE, NO_LEXICON
from sentiment.corpora.datasets import CORPORA, LABELS, prepare, split_files, write_jsonl
from sentiment.evaluation.baselines import TfidfLogReg, Vader
from sentiment.evaluation.behaviour import pass_rates, suite
from sentiment.evaluation.metrics import calibrated_ece_floor, expected_calibration_error, pearson, three_way
from sentiment.inference.predictor import Predictor
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit

SPLIT_NAMES = ("train", "dev", "test")
# Each trained here with the default settings but one. The GloVe rows are the fast model's recipe
# (encoder="glove") and its own ablations; the encoder rows change the default.
GLOVE = dict(encoder="glove")
DISTILLED = dict(GLOVE, teacher="--model")  # the teacher is the default model under test
ABLATIONS = {
    "GloVe model trained on labels alone, retrained": GLOVE,
    "GloVe distilled: the training rows, soft labels only": dict(DISTILLED, transfer=()),
    "GloVe distilled: + masked words": dict(DISTILLED, transfer=("mask",)),
    "GloVe distilled: + masked and swapped words": dict(DISTILLED, transfer=("mask", "swap")),
    "GloVe distilled: + n-gram windows": dict(DISTILLED, transfer=("mask", "swap", "ngram")),
    "GloVe distilled: + documents' sentence pairs (the fast model's recipe)": DISTILLED,
    "encoder without the relation head (mean over words, same classifier)": dict(relation=False),
    "encoder, first piece per word": dict(word_pooling="first"),
    "encoder, 3 epochs": dict(epochs=3),
    "encoder, lower 3 layers frozen": dict(freeze_layers=3),
    "encoder without the lexicon's features and counterfactuals": NO_LEXICON,
    "encoder with class balancing 0.5": dict(class_balance=0.5),
    "GloVe, article structure (order-blind, attention unscaled, no lexicon)": dict(GLOVE, **ARTICLE_STRUCTURE),
    "GloVe without negation counterfactuals": dict(GLOVE, augment_negation=False),
    "GloVe without clause flags": dict(GLOVE, clauses=False),
    "GloVe without corpus balancing": dict(GLOVE, balance=0.0),
    "GloVe without the rating head": dict(GLOVE, rating_field=""),
    "GloVe, epochs chosen on dev macro-F1": dict(GLOVE, select_metric="macro_f1"),
    "GloVe with class balancing 0.5": dict(GLOVE, class_balance=0.5),
}


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def load_splits(data_dir=None):
    """{corpus: {split: [row dicts with text, label, rating]}}."""
    return {c: {s: read_rows(split_files(s, [c], data_dir)[0]) for s in SPLIT_NAMES} for c in CORPORA}


def polar_rows(rows):
    """The rows with a non-zero mean rating, labelled by its sign: the earlier two-way data."""
    return [dict(row, label="positive" if row["rating"] > 0 else "negative") for row in rows if row["rating"] != 0]


def write_polar_view(splits, folder):
    """data/<corpus>/<split>.jsonl as they were two-way, under folder; returns (train files, dev files)."""
    for corpus, parts in splits.items():
        (Path(folder) / corpus).mkdir(parents=True, exist_ok=True)
        for split, rows in parts.items():
            write_jsonl(Path(folder) / corpus / f"{split}.jsonl", polar_rows(rows))
    return split_files("train", data_dir=folder), split_files("dev", data_dir=folder)


class ModelSystem:
    """A loaded Predictor, read three ways: its label, the larger of p(positive) and p(negative), and its score.

    probability_score=True reads the score as p(positive) - p(negative) even where the model has a rating head.
    """

    def __init__(self, predictor, probability_score=False):
        self.predictor, self.labels = predictor, predictor.labels
        self.probability_score = probability_score or not predictor.model.rating_head

    def predict(self, texts):
        return self.predictor.predict(texts)

    def probabilities(self, texts):
        return self.predictor.predict_proba(texts)

    def polar(self, texts):
        p = self.probabilities(texts)
        return np.where(p[:, self.labels.index("positive")] >= p[:, self.labels.index("negative")],
                        "positive", "negative").tolist()

    def scores(self, texts):
        if not self.probability_score:
            return self.predictor.predict_score(texts)
        p = self.probabilities(texts)
        return p[:, self.labels.index("positive")] - p[:, self.labels.index("negative")]


class TfidfSystem(ModelSystem):
    def __init__(self, baseline):
        self.baseline, self.labels, self.probability_score = baseline, baseline.labels, True

    def predict(self, texts):
        return self.baseline.predict(texts)

    def probabilities(self, texts):
        return self.baseline.predict_proba(texts)


class VaderSystem:
    def __init__(self):
        self.vader = Vader().fit([], LABELS)

    def predict(self, texts):
        return self.vader.predict(texts)

    def polar(self, texts):
        return self.vader.predict_polar(texts)

    def scores(self, texts):
        return np.array(self.vader.scores(texts))


def polar_accuracy(system, rows):
    """(accuracy, n) of the system's polar reading on the rows with a non-zero mean rating."""
    polar = polar_rows(rows)
    predicted = system.polar([r["text"] for r in polar])
    return round(float(np.mean([p == r["label"] for p, r in zip(predicted, polar)])), 4), len(polar)


def measure(system, splits, cases):
    """Every figure of one system: per test corpus three-way, polar and r; dev macro-F1; behaviour."""
    row = {"test": {}, "dev_macro_f1": {}, "dev_score_r": {}}
    for corpus in CORPORA:
        dev, test = splits[corpus]["dev"], splits[corpus]["test"]
        row["dev_macro_f1"][corpus] = three_way(system.predict([r["text"] for r in dev]),
                                                [r["label"] for r in dev])["macro_f1"]
        row["dev_score_r"][corpus] = pearson(system.scores([r["text"] for r in dev]), [r["rating"] for r in dev])
        figures = three_way(system.predict([r["text"] for r in test]), [r["label"] for r in test])
        figures["polar"], figures["polar_n"] = polar_accuracy(system, test)
        figures["score_r"] = pearson(system.scores([r["text"] for r in test]), [r["rating"] for r in test])
        if hasattr(system, "probabilities"):
            figures["ece"] = round(expected_calibration_error(system.probabilities([r["text"] for r in test]),
                                                              [system.labels.index(r["label"]) for r in test]), 4)
        figures["n"] = len(test)
        row["test"][corpus] = figures
    for key in ("accuracy", "macro_f1", "polar", "score_r"):
        row[f"mean_{key}"] = round(float(np.mean([row["test"][c][key] for c in CORPORA])), 4)
    for key in ("dev_macro_f1", "dev_score_r"):
        row[f"mean_{key}"] = round(float(np.mean(list(row[key].values()))), 4)
    rates = pass_rates(system.predict, cases)[0]
    row["behaviour"] = {k: round(v, 4) for k, v in rates.items()}
    return row


def calibration(predictor, splits):
    """{corpus: [ECE at temperature 1, ECE at the fitted temperature, ECE floor of a calibrated model]}, test."""
    fitted, result = predictor.temperature, {}
    for corpus in CORPORA:
        rows = splits[corpus]["test"]
        true = [predictor.labels.index(r["label"]) for r in rows]
        eces = []
        for temperature in (1.0, fitted):
            predictor.temperature = temperature
            probabilities = predictor.predict_proba([r["text"] for r in rows])
            eces.append(round(expected_calibration_error(probabilities, true), 4))
        result[corpus] = eces + [round(calibrated_ece_floor(probabilities), 4)]
    predictor.temperature = fitted
    return result


def show(name, row):
    cells = "  ".join(f"{c} {row['test'][c]['accuracy']:.3f}/{row['test'][c]['macro_f1']:.3f}/"
                      f"{row['test'][c]['polar']:.3f}/{row['test'][c]['score_r']:.3f}" for c in CORPORA)
    print(f"{name:58s} dev F1 {row['mean_dev_macro_f1']:.4f} r {row['mean_dev_score_r']:.4f}  test acc/F1/polar/r: {cells}  "
          f"mean F1 {row['mean_macro_f1']:.4f}  behaviour {row['behaviour']['overall']:.3f}", flush=True)


def held_out(corpus, splits, out):
    """Trained three-way on the other corpora; three-way and polar figures on every sentence of `corpus`."""
    others = [c for c in CORPORA if c != corpus]
    started = time.time()
    fit(TrainConfig(out=out, progress=False, data=split_files("train", others), dev=split_files("dev", others),
                    rating_field="rating"), log=lambda m: None)
    rows = [r for s in SPLIT_NAMES for r in splits[corpus][s]]
    result = {"n": len(rows), "seconds": round(time.time() - started, 1)}
    for name, system in (("model", ModelSystem(Predictor.load(out))), ("vader", VaderSystem())):
        figures = three_way(system.predict([r["text"] for r in rows]), [r["label"] for r in rows])
        figures["polar"] = polar_accuracy(system, rows)[0]
        result[name] = figures
    print(f"held out {corpus:7s}: model F1 {result['model']['macro_f1']:.4f} polar {result['model']['polar']:.4f}  "
          f"VADER F1 {result['vader']['macro_f1']:.4f} polar {result['vader']['polar']:.4f}  n={len(rows)}", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--fast", default="models/fast", help="the fast model, measured when it is there")
    parser.add_argument("--also", action="append", default=[], metavar="[NAME=]BUNDLE",
                        help="another bundle to measure beside them, its row named NAME (repeatable)")
    parser.add_argument("--json", default="bench/results/accuracy.json")
    parser.add_argument("--skip-two-way", action="store_true", help="do not retrain the earlier two-way recipe")
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--ablation", action="append", metavar="TEXT",
                        help="run only the ablation rows whose name contains TEXT (repeatable)")
    parser.add_argument("--skip-held-out", action="store_true")
    args = parser.parse_args()
    prepare()
    splits, cases = load_splits(), suite()
    results = {**stamp(), "systems": {}, "held_out": {}}

    def record(name, system, **extra):
        results["systems"][name] = {**measure(system, splits, cases), **extra}
        show(name, results["systems"][name])

    default = Predictor.load(args.model)
    record(f"default model {default.version}", ModelSystem(default), calibration=calibration(default, splits),
           temperature=default.temperature, train_seconds=default.metrics.get("train_seconds"))
    print("  test ECE (temperature 1 -> fitted " f"{default.temperature}; floor of a calibrated model): " + ", ".join(
        f"{c} {a:.3f} -> {b:.3f} ({floor:.3f})" for c, (a, b, floor) in results["systems"]
        [f"default model {default.version}"]["calibration"].items()), flush=True)
    if Path(args.fast, "manifest.json").exists():
        fast = Predictor.load(args.fast)
        record(f"fast model {fast.version} (distilled)", ModelSystem(fast), train_seconds=fast.metrics.get("train_seconds"),
               distillation=fast.metrics.get("data", {}).get("distillation"))
    for also in args.also:
        name, _, path = also.rpartition("=")
        other = Predictor.load(path)
        record(f"{name or path} {other.version}", ModelSystem(other), train_seconds=other.metrics.get("train_seconds"))
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "model")
        if not args.skip_two_way:
            train, dev = write_polar_view(splits, Path(tmp) / "polar")
            started = time.time()
            fit(TrainConfig(out=out, progress=False, data=train, dev=dev, **GLOVE), log=lambda m: None)
            record("two-way GloVe recipe (the earlier default), retrained", ModelSystem(Predictor.load(out)),
                   train_seconds=round(time.time() - started, 1))
        ablations = {} if args.skip_ablations else {name: options for name, options in ABLATIONS.items()
                                                    if not args.ablation or any(t in name for t in args.ablation)}
        for name, options in ablations.items():
            if options.get("teacher") == "--model":
                options = dict(options, teacher=args.model)
            started = time.time()
            fit(TrainConfig(out=out, progress=False, **options), log=lambda m: None)
            seconds, predictor = round(time.time() - started, 1), Predictor.load(out)
            if predictor.model.rating_head:  # the head's reading beside p(positive) - p(negative), same model
                record(f"{name}, score from the head", ModelSystem(predictor), train_seconds=seconds)
                name = f"{name}, score p(positive) - p(negative)"
            record(name, ModelSystem(predictor, probability_score=True), train_seconds=seconds)
        for corpus in [] if args.skip_held_out else CORPORA:
            results["held_out"][corpus] = held_out(corpus, splits, out)
    train = [r for c in CORPORA for r in splits[c]["train"]]
    record("TF-IDF 1-2-gram + logistic regression (three-way)",
           TfidfSystem(TfidfLogReg().fit([r["text"] for r in train], [r["label"] for r in train])))
    record("VADER compound score (+-0.05 neutral band)", VaderSystem())
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults in {args.json}")


if __name__ == "__main__":
    main()
