"""Whole documents: the verdict against the anchors, on real reviews and editorials held out by document.

Documents: Amazon's reviews and NYT's editorial excerpts rebuilt from their sentence ids, split by
document (data/documents/), each labelled from the mean of its sentences' ratings with the
sentence band. Systems, side by side on the same documents:
- the bundle's learned document level (sentiment.inference.review), when it has one;
- the hand-set verdict (sentiment.inference.documents.VERDICT) over the model's sentence answers;
- the whole text as one sequence (the model clips it at its max length);
- the plain mean of the sentences' log-probabilities, label by its argmax (PlainMean);
- Azure's rule on the model's sentence labels (a positive and a negative sentence: mixed);
- VADER's compound score on the whole text (+-0.05 band).
Figures: three-way accuracy and macro-F1 (mixed read as neutral: a balanced text's mean rating is
near 0), the polar view (positive and negative documents, by the sign of the score), Pearson r
of the score with the mean rating, the document behaviour suite (sentiment/evaluation/document_behaviour.py)
and how many documents of at most 250 words come back truncated.

--tune searches the verdict's settings on the dev documents (never on test or the behaviour suite).

    python -m bench.quality.documents [--model models/default] [--tune]
"""
import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from bench.provenance import stamp
from sentiment.corpora.datasets import BY_DOCUMENT, LABELS, document_files, prepare
from sentiment.evaluation.baselines import Vader
from sentiment.evaluation.document_behaviour import suite
from sentiment.evaluation.metrics import pearson, three_way
from sentiment.inference import documents
from sentiment.inference.documents import Verdict
from sentiment.inference.predictor import Predictor
from sentiment.inference.review import LearnedVerdict


# The anchor: every sentence alike, label by the argmax of the mean of the sentences' log-probabilities.
class PlainMean:
    def __call__(self, sentences, tokenized, labels):
        log_p = np.mean([np.log(np.maximum([s["probabilities"][k] for k in labels], 1e-12)) for s in sentences], axis=0)
        p = np.exp(log_p - log_p.max())
        probabilities = dict(zip(labels, p / p.sum()))
        score = probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0)
        return max(probabilities, key=probabilities.get), probabilities, score, [1 / len(sentences)] * len(sentences)


PLAIN_MEAN = PlainMean()


def read_documents(split):
    docs = []
    for corpus, path in zip(BY_DOCUMENT, document_files(split)):
        with open(path, encoding="utf-8") as f:
            docs.extend(dict(json.loads(line), corpus=corpus) for line in f)
    return docs


class SentenceReadings:
    """The model's sentence answers for each text, computed once; verdicts are then read from them."""

    def __init__(self, predictor, texts):
        self.predictor, self.texts = predictor, texts
        self.plans = [documents.plan(t, predictor.tokenizer) for t in texts]
        flat = predictor.forward_sentences([x for p in self.plans for x in p.tokenized], attention=False)
        self.results, at = [], 0
        for p in self.plans:
            self.results.append(flat[at:at + len(p.tokenized)])
            at += len(p.tokenized)

    def answers(self, verdict):
        """[(label, probabilities, score)] per text."""
        return [verdict(results, plan.tokenized, self.predictor.labels)[:3]
                for plan, results in zip(self.plans, self.results)]

    def verdict(self, verdict):
        """[(label, score)] per text."""
        return [(label, score) for label, _, score in self.answers(verdict)]

    def azure(self):
        """Azure's rule: any positive and any negative sentence make it mixed; the score is the mean."""
        out = []
        for results in self.results:
            labels = {r["label"] for r in results}
            label = ("mixed" if {"positive", "negative"} <= labels else "positive" if "positive" in labels
                     else "negative" if "negative" in labels else "neutral")
            out.append((label, float(np.mean([r["score"] for r in results]))))
        return out


def whole_text(predictor, texts):
    """The text as one sequence, clipped at the model's max length: [(label, score, truncated)]."""
    results = predictor.forward_sentences([predictor.tokenizer(t) for t in texts], attention=False)
    return [(r["label"], r["score"], r["truncated"]) for r in results]


def vader(texts):
    analyzer = Vader().fit([], LABELS)
    return [(label, score) for label, score in zip(analyzer.predict(texts), analyzer.scores(texts))]


def figures(readings, docs):
    """Three-way accuracy and macro-F1 (mixed as neutral), polar accuracy by the score's sign, r."""
    predicted = ["neutral" if label == "mixed" else label for label, _ in readings]
    polar = [(score, d["label"]) for (_, score), d in zip(readings, docs) if d["label"] != "neutral"]
    return {"n": len(docs), **three_way(predicted, [d["label"] for d in docs]), "polar_n": len(polar),
            "polar": round(float(np.mean([(s >= 0) == (t == "positive") for s, t in polar])), 4),
            "score_r": pearson([s for _, s in readings], [d["rating"] for d in docs])}


def behaviour(label_texts, cases):
    """{capability: pass rate} for a texts -> labels function."""
    return {name: round(float(np.mean([p == e for p, (_, e) in zip(label_texts([t for t, _ in items]), items)])), 4)
            for name, items in cases.items()}


GRID = {"later": [0.0, 0.5, 1.0, 2.0, 4.0], "cue": [1.0, 2.0, 4.0], "salience": [0.0, 0.5, 0.8],
        "band": [0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3], "mixed": [0.25, 0.3, 0.35, 0.4, 2.0]}


TOLERANCE = 0.015  # about one dev document of 80: macro-F1 differences below this are noise


def tune(readings, docs):
    """(chosen verdict, every verdict of GRID on the dev documents, best macro-F1 first).

    Chosen: among the verdicts within TOLERANCE of the best dev macro-F1, the best polar accuracy,
    then the most weight on cues and on later sentences (where a review's verdict sits).
    """
    rows = []
    for values in itertools.product(*GRID.values()):
        verdict = Verdict(**dict(zip(GRID, values)))
        row = figures(readings.verdict(verdict), docs)
        rows.append((row["macro_f1"], row["polar"], verdict, row))
    rows.sort(key=lambda r: (-r[0], -r[1]))
    close = [r for r in rows if r[0] >= rows[0][0] - TOLERANCE]
    chosen = max(close, key=lambda r: (r[1], r[2].cue, r[2].later, r[0]))[2]
    return chosen, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--tune", action="store_true", help="search the verdict's settings on the dev documents")
    parser.add_argument("--json", default="bench/results/documents.json")
    args = parser.parse_args()
    prepare()
    predictor = Predictor.load(args.model)
    learned = isinstance(predictor.verdict, LearnedVerdict)
    results = {**stamp(), "model": predictor.version, "verdict": vars(documents.VERDICT),
               "document_level": predictor.verdict.settings() if learned else None}
    if args.tune:
        dev = read_documents("dev")
        chosen, rows = tune(SentenceReadings(predictor, [d["text"] for d in dev]), dev)
        print(f"dev documents: {len(dev)}; best verdicts of {len(rows)} (macro-F1, polar):")
        for f1, polar, verdict, _ in rows[:10]:
            print(f"  {f1:.4f}  {polar:.4f}  {verdict}")
        print(f"chosen (within {TOLERANCE} of the best: best polar, then most weight on cues and later sentences): "
              f"{chosen}; the default is {documents.VERDICT}")
        results["tuning"] = {"chosen": vars(chosen), "best": [{"verdict": vars(v), **row} for _, _, v, row in rows[:20]]}
    cases = suite()
    for split in ("dev", "test"):
        docs = read_documents(split)
        texts = [d["text"] for d in docs]
        readings = SentenceReadings(predictor, texts)
        systems = {**({"document level (learned)": readings.verdict(predictor.verdict)} if learned else {}),
                   "verdict": readings.verdict(documents.VERDICT),
                   "whole text as one sequence": [(label, score) for label, score, _ in whole_text(predictor, texts)],
                   "plain mean of sentence log-probabilities": readings.verdict(PLAIN_MEAN),
                   "Azure's rule on the sentence labels": readings.azure(), "VADER on the whole text": vader(texts)}
        results[split] = {}
        counts = ", ".join(f"{c} {sum(d['corpus'] == c for d in docs)}" for c in BY_DOCUMENT)
        print(f"\n{split} documents ({counts})            accuracy  macro-F1  polar (n)        r")
        for name, readings_ in systems.items():
            row = {"all": figures(readings_, docs)}
            for corpus in BY_DOCUMENT:
                picked = [i for i, d in enumerate(docs) if d["corpus"] == corpus]
                row[corpus] = figures([readings_[i] for i in picked], [docs[i] for i in picked])
            results[split][name] = row
            a = row["all"]
            print(f"  {name:44s} {a['accuracy']:8.3f}  {a['macro_f1']:8.3f}  {a['polar']:.3f} ({a['polar_n']:3d})"
                  f"  {a['score_r']:7.3f}   " + "  ".join(f"{c} F1 {row[c]['macro_f1']:.3f} polar {row[c]['polar']:.3f}"
                                                          for c in BY_DOCUMENT), flush=True)
    print("\ndocument behaviour suite (40 texts per capability)")
    suite_systems = {
        **({"document level (learned)": lambda texts: [label for label, _ in SentenceReadings(
            predictor, texts).verdict(predictor.verdict)]} if learned else {}),
        "verdict": lambda texts: [label for label, _ in SentenceReadings(predictor, texts).verdict(documents.VERDICT)],
        "whole text as one sequence": lambda texts: [label for label, _, _ in whole_text(predictor, texts)],
        "plain mean of sentence log-probabilities":
            lambda texts: [label for label, _ in SentenceReadings(predictor, texts).verdict(PLAIN_MEAN)],
        "Azure's rule on the sentence labels": lambda texts: [label for label, _ in SentenceReadings(predictor,
                                                                                                    texts).azure()],
        "VADER on the whole text": lambda texts: [label for label, _ in vader(texts)]}
    results["behaviour"] = {name: behaviour(fn, cases) for name, fn in suite_systems.items()}
    for capability in cases:
        print(f"  {capability:36s}" + "".join(f"{results['behaviour'][name][capability]:>10.1%}"
                                              for name in suite_systems))
    every = read_documents("train") + read_documents("dev") + read_documents("test")
    short = [d["text"] for d in every if len(d["text"].split()) <= 250]
    started = time.perf_counter()
    answers = predictor.explain(short, attention=False)
    seconds = time.perf_counter() - started
    results["truncation"] = {"documents_up_to_250_words": len(short),
                             "truncated_by_the_verdict_path": sum(a["truncated"] for a in answers),
                             "truncated_as_one_sequence": sum(t for _, _, t in whole_text(predictor, short)),
                             "seconds": round(seconds, 2)}
    print(f"\ndocuments of at most 250 words: {len(short)}; answered truncated: "
          f"{results['truncation']['truncated_by_the_verdict_path']} sentence by sentence, "
          f"{results['truncation']['truncated_as_one_sequence']} as one sequence ({seconds:.1f} s for all)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
