"""Whole reviews no one here wrote: the test splits of the review sets (`sentiment data --reviews DIR`).

Sets: IMDB test (a seeded sample, with its 95% interval), Blitzer's four Amazon domains, polarity v2.0 (cv9xx) and
scale v1.0 (Pearson r of the score with the critic's normalised rating). Each model reads every review once; its
verdicts are then read from the same sentence answers:
- the bundle's learned document level, and the hand-set verdict on the same sentences;
- --heads NAME=BUNDLE: the document level of another bundle with the same sentence model (trained without the
  reviews, say).
Anchors on the same reviews: TF-IDF + LR trained on the training reviews of imdb, blitzer and polarity (all of them),
and VADER on the whole text.
Figures: polar accuracy (p(positive) against p(negative) of the whole text; on scale, its polar reviews), exact
accuracy (the label given is the review's own: mixed or neutral on a polar review is wrong), and for IMDB the labels
given at each star rating.

    python -m bench.quality.reviews [--model models/default] [--also NAME=BUNDLE] [--heads NAME=BUNDLE]
                                    [--imdb 5000]
"""
import argparse
import json
import math
import random
import time
from pathlib import Path

import mxnet as mx
import numpy as np

from bench.provenance import stamp
from bench.quality.documents import SentenceReadings
from sentiment.corpora.reviews import review_files
from sentiment.evaluation.baselines import TfidfLogReg, Vader
from sentiment.evaluation.metrics import pearson
from sentiment.inference import documents, review
from sentiment.inference.predictor import Predictor


def read(path, limit=None, seed=0):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


def test_sets(imdb_limit, limit=None):
    """{name: rows}: imdb (sampled), blitzer per domain, polarity, scale; limit: at most this many of each (a trial)."""
    sets = {}
    for path in review_files("test"):
        corpus = Path(path).parent.name
        rows = read(path, imdb_limit if corpus == "imdb" else None)
        rows = rows[:limit] if limit else rows
        if corpus == "blitzer":
            for domain in sorted({r["domain"] for r in rows}):
                sets[f"blitzer/{domain}"] = [r for r in rows if r["domain"] == domain]
        else:
            sets[corpus] = rows
    return sets


def figures(answers, rows):
    """Polar and exact accuracy (with 95% intervals), mixed and neutral counts, r with the rating."""
    gold = [r["label"] for r in rows]
    polar = [(a[1].get("positive", 0) >= a[1].get("negative", 0)) == (g == "positive") for a, g in zip(answers, gold)
             if g in ("positive", "negative")]
    exact = [a[0] == g for a, g in zip(answers, gold)]
    ratings = [r["rating"] for r in rows]
    out = {"n": len(rows), "polar": _share(polar), "exact": _share(exact),
           "mixed": sum(a[0] == "mixed" for a in answers), "neutral": sum(a[0] == "neutral" for a in answers)}
    if all(r is not None for r in ratings):
        out["score_r"] = pearson([a[2] for a in answers], ratings)
    return out


def _share(hits):
    p = float(np.mean(hits))
    return {"value": round(p, 4), "ci95": round(1.96 * math.sqrt(p * (1 - p) / len(hits)), 4)}


def by_stars(answers, rows):
    """IMDB: {stars: {label: count, "polar": accuracy}} from the ids' ratings ((stars - 5.5) / 4.5)."""
    table = {}
    for (label, probabilities, _), row in zip(answers, rows):
        stars = int(round(row["rating"] * 4.5 + 5.5))
        cell = table.setdefault(stars, {"n": 0, "polar_right": 0})
        cell["n"] += 1
        cell[label] = cell.get(label, 0) + 1
        cell["polar_right"] += (probabilities.get("positive", 0) >= probabilities.get("negative", 0)) == (stars >= 7)
    return {k: dict(v, polar=round(v.pop("polar_right") / v["n"], 4)) for k, v in sorted(table.items())}


def anchors(sets):
    """{system: {set: [(label, probabilities, score)]}} of TF-IDF + LR (trained on the training reviews) and VADER."""
    train = [r for corpus in ("imdb", "blitzer", "polarity") for path in review_files("train", (corpus,))
             for r in read(path)]
    tfidf = TfidfLogReg().fit([r["text"] for r in train], [r["label"] for r in train])
    vader = Vader().fit([], ["negative", "neutral", "positive"])
    out = {"TF-IDF + LR (training reviews)": {}, "VADER, whole text": {}}
    for name, rows in sets.items():
        texts = [r["text"] for r in rows]
        probabilities = tfidf.predict_proba(texts)
        out["TF-IDF + LR (training reviews)"][name] = [
            (tfidf.labels[int(np.argmax(p))], dict(zip(tfidf.labels, map(float, p))),
             float(p[tfidf.labels.index("positive")] - p[tfidf.labels.index("negative")])) for p in probabilities]
        out["VADER, whole text"][name] = [
            (label, {"positive": float(c >= 0), "negative": float(c < 0)}, c)
            for label, c in zip(vader.predict(texts), vader.scores(texts))]
    return out, len(train)


def head_of(path):
    """The learned verdict of another bundle (its document level only)."""
    loaded = Predictor.load(path)
    if not isinstance(loaded.verdict, review.LearnedVerdict):
        raise SystemExit(f"{path} has no document level")
    return loaded.verdict, loaded.version


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=BUNDLE",
                        help="another bundle, read with its own verdict")
    parser.add_argument("--heads", action="append", default=[], metavar="NAME=BUNDLE",
                        help="another bundle's document level over --model's sentence answers")
    parser.add_argument("--imdb", type=int, default=5000, help="IMDB test reviews, a seeded sample (0: all 25,000)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many reviews of each set (a trial)")
    parser.add_argument("--json", default="bench/results/reviews.json")
    args = parser.parse_args()
    sets = test_sets(args.imdb, args.limit)
    print(", ".join(f"{k} {len(v)}" for k, v in sets.items()), flush=True)
    results = {**stamp(), "sets": {k: len(v) for k, v in sets.items()}, "systems": {}}
    systems = {}
    bundles = [("default", args.model)] + [tuple(a.split("=", 1)) for a in args.also]
    for number, (name, path) in enumerate(bundles):
        predictor = Predictor.load(path)
        verdicts = {f"{name}: {'document level' if isinstance(predictor.verdict, review.LearnedVerdict) else 'verdict'}"
                    f" ({predictor.version})": predictor.verdict}
        if number == 0:
            if isinstance(predictor.verdict, review.LearnedVerdict):
                verdicts[f"{name}: hand-set verdict ({predictor.version})"] = documents.VERDICT
            for head_name, head_path in (a.split("=", 1) for a in args.heads):
                verdict, version = head_of(head_path)
                verdicts[f"{head_name}: document level of {version} on {predictor.version}"] = verdict
        seconds = 0.0
        for set_name, rows in sets.items():
            started = time.perf_counter()
            readings = SentenceReadings(predictor, [r["text"] for r in rows])
            seconds += time.perf_counter() - started
            for label, verdict in verdicts.items():
                systems.setdefault(label, {})[set_name] = readings.answers(verdict)
            print(f"  {name}: read {set_name} ({time.perf_counter() - started:.0f}s)", flush=True)
        del predictor
        mx.nd.waitall()
    made, trained_on = anchors(sets)
    systems.update(made)
    results["tfidf_training_reviews"] = trained_on
    print(f"\n{'system':60s}" + "".join(f"{k:>18s}" for k in sets) + "   (polar / exact)")
    for label, answers in systems.items():
        row = {k: figures(answers[k], sets[k]) for k in sets}
        if "imdb" in sets:
            row["imdb_by_stars"] = by_stars(answers["imdb"], sets["imdb"])
        results["systems"][label] = row
        print(f"{label:60s}" + "".join(f"{row[k]['polar']['value']:>9.3f} / {row[k]['exact']['value']:.3f}"
                                       for k in sets), flush=True)
        if "scale" in row and "score_r" in row["scale"]:
            print(f"{'':60s}scale: r {row['scale']['score_r']:.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
