"""Aspects on the three test sets, side by side: polarity of given targets, extracted targets, exactness, speed.

    python -m bench.aspects [--model models/default] [--seconds 20]

Rows:
- the model: every test target asked of `Predictor` as a {"start", "end"} span (the product's one path; a target
  named twice in a tweet is asked at its first place), with contributions;
- VADER on the window: the compound score of the 3 words either side of the target (its own band of +-0.05);
- a plain fine-tune of the same MiniLM reading "sentence [SEP] target" (BERT-SPC's input), from
  bench/results/aspects_reference.json (bench/reference/aspects_reference.py, in the reference venv), if present;
- the published figures quoted in ../shared/data/absa/README.md (larger encoders: BERT-base and up).
Also: targets found with `aspects: true` against each SemEval sentence's targets (exact character spans; the .seg
files hold only sentences with targets, so precision is optimistic), whether each target's contributions plus its
bias add up to its log-odds, the share of its top-3 pairs that hold a target word, the aspect heads' training time,
and /predict at concurrency 1 and 32 for a two-sentence review with two given targets beside the same review alone.
Results: bench/results/aspects.json.
"""
import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np

from bench.provenance import stamp
from bench.speed.load import lua_script, run_wrk
from sentiment.corpora.absa import FILES, absa_files, read_sentences
from sentiment.evaluation.metrics import macro_f1
from sentiment.inference.answer import Options
from sentiment.inference.predictor import Predictor
from tests.helpers import Gunicorn

LABELS = ("negative", "neutral", "positive")
PUBLISHED = {  # accuracy / macro-F1 on these test files, as ../shared/data/absa/README.md quotes them
    "BERT-SPC (BERT-base)": {"restaurants": (84.46, 76.98), "laptops": (78.99, 75.03), "tweets": (73.55, 72.14)},
    "LCF-BERT (BERT-base)": {"restaurants": (87.14, 81.74), "laptops": (82.45, 79.59), "tweets": (77.31, 75.78)},
    "MemNet": {"restaurants": (80.95, None), "laptops": (72.21, None), "tweets": (71.48, None)},
}
REVIEW = "The screen is lovely and bright. The battery died within a week."  # written for this bench
TARGETS = ["screen", "battery"]


def figures(true, predicted):
    true, predicted = np.array([LABELS.index(t) for t in true]), np.array([LABELS.index(p) for p in predicted])
    return {"accuracy": round(float(np.mean(true == predicted)) * 100, 2),
            "macro_f1": round(macro_f1(true, predicted, list(range(3))) * 100, 2), "targets": len(true)}


def given_targets(predictor, sentences, batch=64):
    """The model's labels for every target, the largest gap between a target's contributions + bias and its
    log-odds, and the share of its top-3 pairs that hold one of its words."""
    true, predicted, gaps, about = [], [], [], []
    for first in range(0, len(sentences), batch):
        part = sentences[first:first + batch]
        spans = [[{"start": t["start"], "end": t["end"]} for t in s["targets"]] for s in part]
        answers = predictor([s["text"] for s in part], Options(attention=False, contributions=True, top_pairs=3),
                            aspects=spans)
        for sentence, answer in zip(part, answers):
            by_span = {(a.start, a.end): a for a in answer.aspects}
            for target in sentence["targets"]:
                aspect = by_span[(target["start"], target["end"])]
                true.append(target["label"])
                predicted.append(aspect.label)
                log_odds = math.log(aspect.probabilities[aspect.label] / aspect.probabilities[aspect.runner_up])
                gaps.append(abs(float(np.sum(aspect.contributions)) + aspect.contribution_bias - log_odds))
                words = set(aspect.target_tokens)
                about += [p["i"] in words or p["j"] in words for p in aspect.top_pairs]
    return true, predicted, max(gaps), float(np.mean(about))


def vader_window(sentences, width=3):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    predicted = []
    for sentence in sentences:
        for target in sentence["targets"]:
            left = sentence["text"][:target["start"]].split()[-width:]
            right = sentence["text"][target["end"]:].split()[:width]
            compound = analyzer.polarity_scores(" ".join(left + right))["compound"]
            predicted.append("positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral")
    return predicted


def extraction(predictor, sentences, batch=64):
    found, gold = set(), set()
    for first in range(0, len(sentences), batch):
        part = sentences[first:first + batch]
        answers = predictor([s["text"] for s in part], Options(attention=False, tokens=False), aspects=True)
        for k, (sentence, answer) in enumerate(zip(part, answers)):
            found |= {(first + k, a.start, a.end) for a in answer.aspects}
            gold |= {(first + k, a, b) for t in sentence["targets"] for a, b in t["spans"]}
    hits = len(found & gold)
    precision, recall = hits / max(len(found), 1), hits / max(len(gold), 1)
    return {"precision": round(precision * 100, 2), "recall": round(recall * 100, 2),
            "f1": round(200 * precision * recall / max(precision + recall, 1e-9), 2), "gold": len(gold),
            "found": len(found)}


def serving(model, seconds, rounds):
    """/predict for REVIEW with and without its two targets, concurrency 1 and 32, one server (the kind's layout),
    the two bodies alternated `rounds` times."""
    bodies = {"with 2 aspects": {"text": REVIEW, "aspects": TARGETS}, "without aspects": {"text": REVIEW}}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = Gunicorn(model, workers=1, threads=32, log_path=Path(tmp) / "log").wait("/ready", timeout=180)
        try:
            for _ in range(rounds):  # alternated: the machine's noise shows in the spread
                for name, body in bodies.items():
                    script = lua_script(Path(tmp) / "body.lua", [body])
                    run_wrk(server.url, script, 4, 2)
                    for connections in (1, 32):
                        r = run_wrk(server.url, script, connections, seconds)
                        rows.setdefault(f"{name}, c={connections}", []).append(
                            {"p50_ms": round(r["p50_ms"], 2), "requests_per_second": round(r["requests_per_second"], 1),
                             "errors": r["errors"]})
        finally:
            server.stop()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternated serving runs of each body")
    parser.add_argument("--serving-only", action="store_true", help="measure serving again, keep the other figures")
    parser.add_argument("--json", default="bench/results/aspects.json")
    args = parser.parse_args()
    if args.serving_only:
        results = json.loads(Path(args.json).read_text())
        results["serving"] = serving(args.model, args.seconds, args.rounds)
        results["serving_command"] = stamp()["command"]
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        return print_serving(results)
    predictor = Predictor.load(args.model)
    reference = Path("bench/results/aspects_reference.json")
    reference = json.loads(reference.read_text()) if reference.exists() else None
    results = {**stamp(), "model": predictor.version, "sets": {}, "published": PUBLISHED,
               "reference": reference, "training": predictor.metrics.get("aspects", {}).get("train_seconds")}
    for name in FILES:
        sentences = read_sentences(absa_files("test", (name,))[0])
        true, predicted, gap, about = given_targets(predictor, sentences)
        row = {"model": figures(true, predicted), "vader_window": figures(true, vader_window(sentences)),
               "max_contribution_gap": gap, "top3_pairs_with_target": round(about * 100, 2)}
        if reference:
            test = reference["sets"][name]["test"]
            row["reference"] = {k: round(v * 100, 2) for k, v in test.items()}
        if name != "tweets":
            row["extraction"] = extraction(predictor, sentences)
        results["sets"][name] = row
        print(f"{name:12s} model {row['model']['accuracy']:.1f} / {row['model']['macro_f1']:.1f}   VADER window "
              f"{row['vader_window']['accuracy']:.1f} / {row['vader_window']['macro_f1']:.1f}   "
              + (f"reference {row['reference']['accuracy']:.1f} / {row['reference']['macro_f1']:.1f}   "
                 if reference else "")
              + f"top-3 pairs with the target {row['top3_pairs_with_target']:.1f}%   largest gap {gap:.1e}"
              + (f"   extraction P/R/F1 {row['extraction']['precision']:.1f}/{row['extraction']['recall']:.1f}/"
                 f"{row['extraction']['f1']:.1f}" if "extraction" in row else ""), flush=True)
    results["serving"] = serving(args.model, args.seconds, args.rounds)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print_serving(results)


def print_serving(results):
    for name, runs in results["serving"].items():
        print(f"{name:26s} " + "   ".join(f"p50 {r['p50_ms']:.1f} ms, {r['requests_per_second']:.1f} req/s"
                                          for r in runs), flush=True)


if __name__ == "__main__":
    main()
