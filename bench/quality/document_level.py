"""The document level's design, measured on dev: what the reviews add, how many fit, and how sentences are weighed.

The bundle's sentence model reads the training and dev texts once (the readings are kept in data/cache/documents,
shared with training); each variant of the head then trains in seconds over them:
- reviews + documents: the default (imdb, blitzer and polarity train, up to --limit each, and the project's
  Amazon and NYT documents);
- documents only: without the review sets;
- fewer reviews: the first --small of each review set's (random) sample;
- mean pooling: every sentence alike instead of the learned attention over sentences;
Figures per dev set: the head's accuracy (its argmax, three classes), polar accuracy and exact-label accuracy on
the texts of several sentences (mixed thresholds chosen as in training). The hand-set verdict is measured beside
the learned one on the test sets by bench.quality.reviews and bench.quality.documents.

    python -m bench.quality.document_level --model models/default [--limit 2000] [--small 500]
"""
import argparse
import json
from pathlib import Path

import numpy as np

from bench.provenance import stamp
from sentiment.corpora import datasets
from sentiment.inference.predictor import Predictor
from sentiment.inference.review import LearnedVerdict
from sentiment.model.document import DocumentReader
from sentiment.training import documents as level
from sentiment.training import readings
from sentiment.training.config import default_documents


def polar(verdict, encoded):
    right = []
    for sentences, label in zip(encoded.sentences, encoded.labels):
        if level.LABELS[label] != "neutral":
            p = verdict(sentences, [([], False)] * len(sentences), list(level.LABELS))[1]
            right.append((p["positive"] >= p["negative"]) == (level.LABELS[label] == "positive"))
    return round(float(np.mean(right)), 4) if right else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--json", default="bench/results/document_level.json")
    args = parser.parse_args()
    predictor = Predictor.load(args.model, verdict="rules")
    cache = datasets.DATA_DIR / "cache" / "documents" / readings.sentence_model_key(args.model)

    def read(files, split, limit):
        return [readings.cached(predictor, rows, name, rating_scale, cache, split, limit, 0)
                for name, rows, rating_scale in readings.sources(files, limit, 0)]

    train, dev = read(default_documents("train"), "train", args.limit), read(default_documents("dev"), "dev", 500)
    small = [e if e.source in ("amazon", "nyt") else e.subset(list(range(min(args.small, len(e))))) for e in train]
    hidden = predictor.model.encoder.pair_out._units
    variants = {"reviews + documents (attention over sentences)": (train, "attention"),
                "documents only": ([e for e in train if e.source in ("amazon", "nyt")], "attention"),
                f"{args.small} reviews per set": (small, "attention"),
                "reviews + documents, mean pooling": (train, "mean")}
    results = {**stamp(), "model": predictor.version, "train": {e.source: len(e) for e in train},
               "dev": {e.source: len(e) for e in dev}, "variants": {}}
    for name, (sets, pooling) in variants.items():
        head, figures = level.fit_head(sets, dev, hidden, log=lambda m: None, pooling=pooling)
        reader = DocumentReader(DocumentReader.weights_of(head), pooling)
        verdict = LearnedVerdict(reader, level.LABELS)
        mixed, margin = level.choose_thresholds(head, dev, None, log=lambda m: None)
        exact = LearnedVerdict(reader, level.LABELS, mixed=mixed, margin=margin)
        row = {e.source: {"accuracy": figures["history"][figures["epoch"] - 1]["dev_per_source"][e.source],
                          "polar": polar(verdict, e),
                          "exact_multi_sentence": round(level.exact_accuracy(exact, level.subset(e)), 4)}
               for e in dev}
        row["mean_accuracy"] = figures["dev_accuracy"]
        results["variants"][name] = row
        print(f"{name:50s} mean acc {row['mean_accuracy']:.4f}  " + "  ".join(
            f"{e.source} {row[e.source]['accuracy']:.3f}/{row[e.source]['polar']}" for e in dev), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
