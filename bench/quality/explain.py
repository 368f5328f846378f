"""Are the explanations faithful? Comprehensiveness and sufficiency (ERASER, DeYoung et al., ACL 2020).

On each test split, for every sentence, the words of the top-k word pairs (k = 1, 2, 3) are taken,
with the pairs ranked by
  contribution  the exact signed share of the log-odds toward the predicted label (largest first);
  attention     the attention weight;
  random        a seeded random order;
  occlusion     leave-one-word-out: one extra forward pass per word, a pair scored by the sum of the
                falls of p(label) when each of its words is removed (the expensive reference).
Reported per ranking and k: comprehensiveness, the mean fall of p(label) when those words are
deleted; sufficiency, the mean p(label) when only those words are kept; the mean number of words
taken; and the milliseconds per sentence the ranking cost.

Top pairs of different rankings cover different numbers of words, so the same two figures are also
given at equal words (w = 1, 2, 3): the w highest-scoring words, a word scored by half of each pair
it is in ((row + column) / 2 of the matrix: for contributions, its exact share of the log-odds), and
for occlusion by the fall of p(label) when it alone is removed.

Also reported: how peaked the attention is (mean max/min ratio of a sentence's matrix, and its entropy
against the uniform matrix's) for the model and any --compare bundles (the article's structure, say).

    python -m bench.quality.explain [--model models/default] [--compare models/article] [--json bench/results/explain.json]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from sentiment.corpora.datasets import CORPORA, prepare, split_files
from sentiment.corpora.labelled import load_many
from sentiment.inference.predictor import Predictor

RANKINGS = ("contribution", "attention", "random", "occlusion")
KS = (1, 2, 3)
WORDS = (1, 2, 3)


def p_label(predictor, token_lists, label_ids):
    """p(label) for each token list (an emptied one is scored as a single unknown token)."""
    tokenized = [(tokens or [predictor.inputs.unknown_word], False) for tokens in token_lists]
    results = predictor.forward_sentences(tokenized, attention=False)
    return np.array([r["probabilities"][predictor.labels[c]] for r, c in zip(results, label_ids)])


def pair_order(scores):
    """Flat pair indices of an (n, n) score matrix, highest first."""
    return np.argsort(-scores, axis=None, kind="stable")


def words_of_top_pairs(order, n, k):
    """The token positions of the first k pairs of a flat pair order."""
    positions = set()
    for flat in order[:k]:
        positions.update(divmod(int(flat), n))
    return positions


def word_order(matrix):
    """Token positions by score, highest first; a word gets half of each pair it is in."""
    return list(np.argsort(-(matrix.sum(axis=0) + matrix.sum(axis=1)) / 2, kind="stable"))


def occlusion_pair_scores(drop):
    """(n, n) scores from each word's fall of p(label): drop_i + drop_j for a pair of two words, drop_i for
    (i, i); each unordered pair counted once (i <= j), so the top pairs cover distinct word sets."""
    scores = drop[:, None] + drop[None, :]
    np.fill_diagonal(scores, drop)
    scores[np.tril_indices(len(drop), -1)] = -np.inf
    return scores


def rank(predictor, tokens, rng):
    """{ranking: [pair order per sentence]}, {ranking: [word order per sentence]}, {ranking: seconds spent},
    labels and p(label)."""
    orders, seconds = {}, {}
    started = time.perf_counter()
    explained = predictor.forward_sentences([(t, False) for t in tokens], contributions=True)
    seconds["contribution"] = time.perf_counter() - started
    orders["contribution"] = [pair_order(r["contributions"]) for r in explained]
    word_orders = {"contribution": [word_order(r["contributions"]) for r in explained]}
    started = time.perf_counter()
    attended = predictor.forward_sentences([(t, False) for t in tokens])
    seconds["attention"] = time.perf_counter() - started
    orders["attention"] = [pair_order(r["attention"]) for r in attended]
    word_orders["attention"] = [word_order(r["attention"]) for r in attended]
    started = time.perf_counter()
    orders["random"] = [rng.permutation(len(t) ** 2) for t in tokens]
    word_orders["random"] = [list(rng.permutation(len(t))) for t in tokens]
    seconds["random"] = time.perf_counter() - started
    started = time.perf_counter()
    labels = [predictor.labels.index(r["label"]) for r in attended]
    base = np.array([r["probabilities"][r["label"]] for r in attended])
    variants, owners = [], []
    for s, t in enumerate(tokens):
        for i in range(len(t)):
            variants.append(t[:i] + t[i + 1:])
            owners.append(s)
    drops = base[owners] - p_label(predictor, variants, [labels[s] for s in owners])
    orders["occlusion"], word_orders["occlusion"], start = [], [], 0
    for t in tokens:
        drop = drops[start:start + len(t)]
        start += len(t)
        orders["occlusion"].append(pair_order(occlusion_pair_scores(drop)))
        word_orders["occlusion"].append(list(np.argsort(-drop, kind="stable")))
    seconds["occlusion"] = time.perf_counter() - started
    return orders, word_orders, seconds, labels, base


def erased(predictor, tokens, taken, labels, base):
    """Comprehensiveness and sufficiency when the positions in `taken` (one set per sentence) are deleted / kept."""
    deleted = [[w for i, w in enumerate(t) if i not in words] for t, words in zip(tokens, taken)]
    kept = [[w for i, w in enumerate(t) if i in words] for t, words in zip(tokens, taken)]
    return {"comprehensiveness": round(float(np.mean(base - p_label(predictor, deleted, labels))), 4),
            "sufficiency": round(float(np.mean(p_label(predictor, kept, labels))), 4),
            "words": round(float(np.mean([len(w) for w in taken])), 2)}


def evaluate(predictor, texts, seed=0):
    tokens = [predictor.tokenize(text)[0] or [predictor.inputs.unknown_word] for text in texts]
    orders, word_orders, seconds, labels, base = rank(predictor, tokens, np.random.RandomState(seed))
    result = {}
    for ranking in RANKINGS:
        cost = {"ms_per_sentence": round(1000 * seconds[ranking] / len(texts), 3)}
        for k in KS:
            taken = [words_of_top_pairs(order, len(t), k) for order, t in zip(orders[ranking], tokens)]
            result[f"{ranking}@{k}"] = {**erased(predictor, tokens, taken, labels, base), **cost}
        for w in WORDS:
            taken = [set(order[:w]) for order in word_orders[ranking]]
            result[f"{ranking}@{w}w"] = {**erased(predictor, tokens, taken, labels, base), **cost}
    return result


def peakedness(predictor, texts):
    """Mean max/min ratio of the sentences' attention matrices, and mean entropy as a share of log(n^2)
    (1 = uniform)."""
    ratios, entropies = [], []
    sentences = [s for answer in predictor.explain([t for t in texts if predictor.tokenize(t)[0]])
                 for s in answer["sentences"]]
    for sentence in sentences:
        attention = sentence["attention"].ravel()
        if attention.size > 1:
            ratios.append(attention.max() / attention.min())
            entropies.append(-(attention * np.log(attention)).sum() / np.log(attention.size))
    return {"max_min_ratio": round(float(np.mean(ratios)), 2), "relative_entropy": round(float(np.mean(entropies)), 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--json", default="bench/results/explain.json")
    parser.add_argument("--compare", nargs="*", default=[], help="bundles whose attention peakedness is shown too")
    args = parser.parse_args()
    prepare()
    predictor = Predictor.load(args.model)
    results = {}
    print(f"model {predictor.version}; comprehensiveness (higher = more faithful) / sufficiency (p(label) kept) / "
          f"words taken / ms per sentence")
    sizes = {corpus: load_many(split_files("test", [corpus])).texts for corpus in CORPORA}
    for corpus, texts in sizes.items():
        results[corpus] = evaluate(predictor, texts)
    total = sum(map(len, sizes.values()))
    keys = results[next(iter(CORPORA))]
    results["all"] = {key: {m: round(sum(results[c][key][m] * len(sizes[c]) for c in CORPORA) / total, 4)
                            for m in keys[key]} for key in keys}
    for corpus in results:
        print(f"\n{corpus} ({len(sizes[corpus]) if corpus in sizes else total} sentences)")
        for ranking in RANKINGS:
            cells = "   ".join(f"k={k} {results[corpus][f'{ranking}@{k}']['comprehensiveness']:.3f} / "
                               f"{results[corpus][f'{ranking}@{k}']['sufficiency']:.3f} / "
                               f"{results[corpus][f'{ranking}@{k}']['words']:.1f}" for k in KS)
            print(f"  {ranking:13s} {cells}   {results[corpus][f'{ranking}@1']['ms_per_sentence']:.3f} ms", flush=True)
    print("\nall, at equal words deleted (comprehensiveness / sufficiency; share of occlusion's comprehensiveness)")
    at = results["all"]
    for ranking in RANKINGS:
        cells = []
        for w in WORDS:
            this, reference = at[f"{ranking}@{w}w"], at[f"occlusion@{w}w"]
            share = this["comprehensiveness"] / reference["comprehensiveness"]
            cells.append(f"w={w} {this['comprehensiveness']:.3f} / {this['sufficiency']:.3f} ({share:.0%})")
        print(f"  {ranking:13s} {'   '.join(cells)}", flush=True)
    texts = load_many(split_files("test")).texts
    peaks = {}
    print("\nattention peakedness on the test sentences (max/min ratio; entropy, 1 = uniform):")
    for bundle in [args.model, *args.compare]:
        other = Predictor.load(bundle)
        peaks[f"{bundle} ({other.version})"] = peakedness(other, texts)
        print(f"  {bundle} ({other.version}): {peaks[f'{bundle} ({other.version})']}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"model": predictor.version, "results": results, "peakedness": peaks},
                                          indent=2) + "\n")


if __name__ == "__main__":
    main()
