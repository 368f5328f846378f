"""Accuracy, calibration and behaviour in one run, every system on the same splits.

- the default model: dev and test accuracy per corpus, expected calibration error (15 bins) per
  test split before and after its fitted temperature, and the behaviour suite (bench/behaviour.py);
- ablations, each trained here with the default settings but one: the article's structure, and
  each improvement added in turn (the default's own row adds the last, @mentions and links left
  out); no corpus balancing; movie data only;
- each corpus held out entirely: trained on the other three, scored on every sentence of the
  held-out one, beside VADER on the same sentences;
- TF-IDF + LR, NBSVM (trained on the four training splits) and VADER's compound score.

    python -m bench.accuracy [--model models/default] [--skip-ablations | --ablation TEXT ...] [--skip-held-out]
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.baselines import NBSVM, TfidfLogReg, Vader
from bench.behaviour import pass_rates, suite
from sentiment.cli import ARTICLE_STRUCTURE
from sentiment.data import CORPORA, load_many, prepare, split_files
from sentiment.evaluation import calibrated_ece_floor, expected_calibration_error
from sentiment.predictor import Predictor
from sentiment.train import TrainConfig, fit

KEPT = dict(drop_mentions=False)  # every step before the last keeps @mentions and links
SPLIT = dict(KEPT, emoticons=False)  # and before the last two also splits emoticons into characters
ABLATIONS = {
    "article structure (order-blind, attention unscaled, no lexicon)": dict(ARTICLE_STRUCTURE, **SPLIT),
    "+ word order (offsets clipped at 8)": dict(ARTICLE_STRUCTURE, positions=TrainConfig.positions, **SPLIT),
    "+ attention scale (learned, from 8)": dict(lexicon=False, negation=False, clauses=False, augment_negation=False,
                                                **SPLIT),
    "+ lexicon and negation-scope features": dict(negation=False, clauses=False, augment_negation=False, **SPLIT),
    "+ negation operator": dict(clauses=False, augment_negation=False, **SPLIT),
    "+ clause flags": dict(augment_negation=False, **SPLIT),
    "+ negation counterfactuals": SPLIT,
    "+ emoticons kept whole": KEPT,
    "default without corpus balancing": dict(balance=0.0),
    "default trained on movies only": dict(data=split_files("train", ["movie"]), dev=split_files("dev", ["movie"])),
}


def accuracy(predicted, true):
    return float(np.mean([p == t for p, t in zip(predicted, true)]))


def corpus_scores(predict, splits):
    """{'dev': {corpus: acc, 'mean': ...}, 'test': {...}} for a predict(texts) -> labels function."""
    scores = {}
    for split in ("dev", "test"):
        scores[split] = {c: round(accuracy(predict(splits[c][split][0]), splits[c][split][1]), 4) for c in CORPORA}
        scores[split]["mean"] = round(float(np.mean([scores[split][c] for c in CORPORA])), 4)
    return scores


def calibration(predictor, splits):
    """{corpus: (ECE at temperature 1, ECE at the fitted temperature, ECE floor)} on the test splits.

    The floor is the ECE a perfectly calibrated model with the fitted confidences would show on as
    many sentences (calibrated_ece_floor).
    """
    fitted, result = predictor.temperature, {}
    for corpus in CORPORA:
        texts, labels = splits[corpus]["test"]
        true = [predictor.labels.index(label) for label in labels]
        eces = []
        for temperature in (1.0, fitted):
            predictor.temperature = temperature
            probabilities = predictor.predict_proba(texts)
            eces.append(round(expected_calibration_error(probabilities, true), 4))
        result[corpus] = eces + [round(calibrated_ece_floor(probabilities), 4)]
    predictor.temperature = fitted
    return result


def show(name, row):
    cells = "  ".join(f"{c} {row['test'][c]:.3f}" for c in CORPORA)
    behaviour = f"  behaviour {row['behaviour']:.3f}" if "behaviour" in row else ""
    print(f"{name:64s} dev {row['dev']['mean']:.4f}  test {cells}  mean {row['test']['mean']:.4f}{behaviour}",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--json", default="bench/results/accuracy.json")
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--ablation", action="append", metavar="TEXT",
                        help="run only the ablation rows whose name contains TEXT (repeatable)")
    parser.add_argument("--skip-held-out", action="store_true")
    args = parser.parse_args()
    prepare()
    splits = {c: {s: load_many(split_files(s, [c]))[:2] for s in ("train", "dev", "test")} for c in CORPORA}
    train_texts, train_labels = load_many(split_files("train"))[:2]
    cases = suite()
    results = {"systems": {}, "held_out": {}}

    def record(name, predict, seconds, **extra):
        row = {**corpus_scores(predict, splits), "behaviour": round(pass_rates(predict, cases)[0]["overall"], 4),
               "seconds": round(seconds, 1), **extra}
        results["systems"][name] = row
        show(name, row)

    default = Predictor.load(args.model)
    rates = pass_rates(default.predict, cases)[0]
    record(f"default model {default.version}", default.predict, default.metrics.get("train_seconds", 0),
           calibration=calibration(default, splits), temperature=default.temperature,
           behaviour_per_capability={k: round(v, 4) for k, v in rates.items()})
    print("  test ECE (temperature 1 -> fitted " f"{default.temperature}; floor of a calibrated model): " + ", ".join(
        f"{c} {a:.3f} -> {b:.3f} ({floor:.3f})" for c, (a, b, floor) in results["systems"]
        [f"default model {default.version}"]["calibration"].items()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "model")
        ablations = {} if args.skip_ablations else {name: options for name, options in ABLATIONS.items()
                                                    if not args.ablation or any(t in name for t in args.ablation)}
        for name, options in ablations.items():
            started = time.time()
            fit(TrainConfig(out=out, progress=False, **options), log=lambda m: None)
            record(name, Predictor.load(out).predict, time.time() - started)
        for corpus in [] if args.skip_held_out else CORPORA:
            others = [c for c in CORPORA if c != corpus]
            started = time.time()
            fit(TrainConfig(out=out, progress=False, data=split_files("train", others), dev=split_files("dev", others)),
                log=lambda m: None)
            texts, labels = (sum((splits[corpus][s][i] for s in ("train", "dev", "test")), []) for i in (0, 1))
            model_acc = accuracy(Predictor.load(out).predict(texts), labels)
            vader_acc = accuracy(Vader().fit([], []).predict(texts), labels)
            results["held_out"][corpus] = {"n": len(texts), "model": round(model_acc, 4), "vader": round(vader_acc, 4),
                                           "seconds": round(time.time() - started, 1)}
            print(f"held out {corpus:7s} (trained on {'+'.join(others)}): model {model_acc:.4f}  VADER {vader_acc:.4f}"
                  f"  n={len(texts)}", flush=True)
    for name, baseline in (("TF-IDF 1-2-gram + logistic regression", TfidfLogReg()),
                           ("NBSVM (bigram, Wang & Manning 2012)", NBSVM()),
                           ("VADER compound score (rule-based)", Vader())):
        started = time.time()
        baseline.fit(train_texts, train_labels)
        record(name, baseline.predict, time.time() - started)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults in {args.json}")


if __name__ == "__main__":
    main()
