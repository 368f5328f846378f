"""Do the explanations show pairs a reader recognises, and does the attention focus?

On the movie and Amazon test sentences, for each bundle:
- the share of the top-5 pairs (by |contribution|) that hold punctuation, or punctuation or two stop words, and the
  share of sentences whose top pair holds punctuation;
- how focused the attention is: the median share of the weight on the top 10% of a sentence's pairs (uniform: 10%),
  the median entropy against the uniform matrix's (1 = flat) and the share of exact zeros;
- faithfulness by deletion (ERASER's comprehensiveness, as bench.quality.explain measures it): the mean fall of
  p(label) when the words of the top k pairs by contribution are deleted, k = 1, 2, 3.

    python -m bench.quality.pairs --model models/default [--also NAME=BUNDLE ...]
"""
import argparse
import json
from pathlib import Path

import numpy as np

from bench.provenance import stamp
from bench.quality.explain import erased, pair_order, words_of_top_pairs
from sentiment.corpora.datasets import prepare, split_files
from sentiment.corpora.labelled import load_many
from sentiment.inference.predictor import Predictor

STOP = set("a an the and or but of to in on at for with by from as is are was were be been it its this that "
           "these those i me my we our you your he she they them his her their there here so than then too very "
           "just do does did has have had will would can could should".split())


def punctuation(word):
    return not any(c.isalnum() for c in word)


def measure(predictor, texts):
    tokens = [predictor.tokenize(t)[0] for t in texts]
    tokens = [t for t in tokens if t]
    results = predictor.forward_sentences([(t, False) for t in tokens], contributions=True)
    top5, top5_stop, first, focus, entropy, zeros = [], [], [], [], [], []
    for t, r in zip(tokens, results):
        n = len(t)
        order = np.argsort(-np.abs(r["contributions"]), axis=None, kind="stable")[:5]
        pairs = [divmod(int(k), n) for k in order]
        punct = [punctuation(t[i]) or punctuation(t[j]) for i, j in pairs]
        stop = [p or (t[i].lower() in STOP and t[j].lower() in STOP) for p, (i, j) in zip(punct, pairs)]
        top5 += punct
        top5_stop += stop
        first.append(punct[0])
        attention = np.sort(r["attention"].ravel())[::-1]
        if attention.size > 1:
            focus.append(attention[:max(1, int(round(0.1 * attention.size)))].sum())
            positive = attention[attention > 0]
            entropy.append(float(-(positive * np.log(positive)).sum() / np.log(attention.size)))
            zeros.append(float(np.mean(attention == 0)))
    labels = [predictor.labels.index(r["label"]) for r in results]
    base = np.array([r["probabilities"][r["label"]] for r in results])
    faithful = {}
    for k in (1, 2, 3):
        taken = [words_of_top_pairs(pair_order(r["contributions"]), len(t), k) for t, r in zip(tokens, results)]
        faithful[f"comprehensiveness@{k}"] = erased(predictor, tokens, taken, labels, base)["comprehensiveness"]
    return {"sentences": len(tokens), "top5_punctuation": round(float(np.mean(top5)), 4),
            "top5_punctuation_or_stop_pair": round(float(np.mean(top5_stop)), 4),
            "top1_punctuation": round(float(np.mean(first)), 4),
            "top10pct_attention_median": round(float(np.median(focus)), 4),
            "entropy_ratio_median": round(float(np.median(entropy)), 4),
            "zero_attention_share": round(float(np.mean(zeros)), 4), **faithful}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=BUNDLE")
    parser.add_argument("--json", default="bench/results/pairs.json")
    args = parser.parse_args()
    prepare()
    texts = load_many(split_files("test", ["movie", "amazon"])).texts
    results = {**stamp(), "systems": {}}
    for name, path in [("default", args.model)] + [tuple(a.split("=", 1)) for a in args.also]:
        predictor = Predictor.load(path)
        row = measure(predictor, texts)
        results["systems"][f"{name} ({predictor.version})"] = row
        print(f"{name} ({predictor.version}): " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
