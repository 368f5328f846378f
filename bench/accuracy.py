"""Accuracy on the same held-out split, in one run: the default model, the default configuration
trained on hard labels (no confidences, no weight averaging), the article's configuration,
TF-IDF + LR, NBSVM and VADER; each also on the Amazon cross-domain file.

    python -m bench.accuracy [--model models/default] [--json bench/results/accuracy.json]
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.baselines import NBSVM, TfidfLogReg, Vader
from sentiment.data import DATA_DIR, load_labelled, prepare
from sentiment.predictor import Predictor
from sentiment.train import TrainConfig, fit

# The ablation: what confidences as soft targets and weight averaging add to the default model.
HARD_LABELS = dict(confidence_field=None, average_best=1, progress=False)
# The article's own configuration: T=20, E=10, H=30, random embeddings, hard labels.
ARTICLE = dict(max_len=20, embed_size=10, hidden_size=30, classifier_size=128, embeddings="random", glove_vocab=0,
               dropout=0.0, epochs=12, patience=3, **HARD_LABELS)


def accuracy(predicted, true):
    return sum(p == t for p, t in zip(predicted, true)) / len(true)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--json", default="bench/results/accuracy.json")
    args = parser.parse_args()
    prepare()
    train = load_labelled(DATA_DIR / "train.jsonl", report=lambda m: None)
    evaluation = {name: load_labelled(DATA_DIR / f"{name}.jsonl", report=lambda m: None)
                  for name in ("dev", "test", "amazon")}
    rows = []

    def record(name, predict, seconds):
        row = {"system": name, "fit_seconds": round(seconds, 1)}
        for split, data in evaluation.items():
            row[split] = round(accuracy(predict(data.texts), data.labels), 4)
        rows.append(row)
        print(f"{name:42s} dev {row['dev']:.4f}  test {row['test']:.4f}  amazon {row['amazon']:.4f}", flush=True)

    default = Predictor.load(args.model)
    record(f"relation-network attention (default, {default.version})", default.predict,
           default.metrics.get("train_seconds", 0))
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in (("default configuration, hard labels", HARD_LABELS),
                              ("article configuration (T=20 E=10 H=30, random)", ARTICLE)):
            started = time.time()
            fit(TrainConfig(out=str(Path(tmp) / "model"), **options), log=lambda m: None)
            record(name, Predictor.load(Path(tmp) / "model").predict, time.time() - started)
    for name, baseline in (("TF-IDF 1-2-gram + logistic regression", TfidfLogReg()),
                           ("NBSVM (bigram, Wang & Manning 2012)", NBSVM()),
                           ("VADER compound score (rule-based)", Vader())):
        started = time.time()
        baseline.fit(train[0], train[1])
        record(name, baseline.predict, time.time() - started)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nsizes: train {len(train[0])}, dev {len(evaluation['dev'][0])}, test {len(evaluation['test'][0])}, "
          f"amazon {len(evaluation['amazon'][0])}; results in {args.json}")


if __name__ == "__main__":
    main()
