"""The aspect head's design, measured on dev: which pairs it weighs, what it reads, how it is regularised.

The bundle's sentence model reads the aspect sets' train and dev sentences once (kept in data/cache/aspects, shared
with training); each variant of the head then trains over those readings:
- target pairs (the default): the attention weighs only the pairs that hold a target word, over the target's
  sentence and the ones either side;
- the target's sentence alone: no neighbouring sentences;
- all pairs: every pair, the target known only from the distance columns each word carries;
- no lexicon features: the sentence model's valence, negation and clause columns zeroed;
- softmax attention: every target pair weighed (the sentence model's sparsemax gives most of them zero);
- hidden 128: twice the pair and classifier units;
- separate encoder: the same head on the pretrained MiniLM's word vectors (not fine-tuned on sentences), which
  would cost a second encoder pass per request. The sentence model is frozen throughout, so sharing its encoder
  leaves every sentence and review figure as it was, and the heads share no trained weights: no multi-task
  weights to choose.
Figures per dev set: accuracy and macro-F1 at the epoch that dev's mean macro-F1 chose, and the share of each
target's top-3 pairs (by |contribution|) that hold a target word.

    python -m bench.quality.aspect_design --model models/default [--epochs 5]
"""
import argparse
import json
from pathlib import Path

import mxnet as mx
import numpy as np

from bench.provenance import stamp
from sentiment.corpora import datasets
from sentiment.corpora.absa import FILES
from sentiment.inference.aspects import relation_options
from sentiment.inference.predictor import Predictor
from sentiment.model.aspect import ServedAspectGraph
from sentiment.inference.forward import unpack
from sentiment.training import aspects as level
from sentiment.training.readings import sentence_model_key


def about_target(head, readings, ctx, k=3, size=64):
    """Share of the targets' top-k pairs (by |contribution| toward the predicted class) that hold a target word."""
    graph = ServedAspectGraph(head, contributions=True)
    hits = total = 0
    for first in range(0, len(readings.targets), size):
        chosen = list(range(first, min(first + size, len(readings.targets))))
        words, packed, _ = level.polarity_batch(readings, chosen, ctx)
        done = unpack(graph(words, packed).asnumpy(), 3, head.encoder.pair_out._units, words.shape[1], True)
        for row, index in enumerate(chosen):
            target, n = readings.context(index)[2], readings.length(index)
            shares = done.shares[row, :n, :n, int(done.logits[row].argmax())]
            ranked = [divmod(int(f), n) for f in np.argsort(-np.abs(shares), axis=None)]
            weighed = [(i, j) for i, j in ranked if done.attention[row, i, j] > 0][:k]  # as top_pairs lists them
            for i, j in weighed:
                hits += i in target or j in target
                total += 1
    return round(hits / max(total, 1), 4)


def alone(readings):
    """The same readings, each target read in its own sentence only."""
    return level.AspectReadings(readings.source, readings.units, readings.texts, readings.targets, readings.tags,
                                radius=0)


def without_lexicon(readings):
    """The same readings with the per-word lexicon columns (all but the mask) zeroed."""
    units = [(words, np.concatenate([rows[:, :1], np.zeros_like(rows[:, 1:])], axis=1)) for words, rows in
             readings.units]
    return level.AspectReadings(readings.source, units, readings.texts, readings.targets, readings.tags)


def pretrained_reader(model):
    """A Predictor of the bundle whose encoder holds the pretrained MiniLM weights again (the sentence head unused)."""
    from sentiment.inference.predictor import load_model
    from sentiment.model.transformer import load_safetensors

    loaded, kind, tokenizer, inputs, network = load_model(model, mx.cpu())
    layers = loaded.config["model"]["encoder_sizes"]["num_layers"]
    load_safetensors(network.words.bert, datasets.DATA_DIR / "minilm" / "model.safetensors", layers, mx.cpu())
    kind.for_serving(network, mx.cpu())
    return Predictor(network, kind, inputs, tokenizer, loaded.config["labels"], mx.cpu(), "pretrained",
                     loaded.config, loaded.metrics)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--json", default="bench/results/aspect_design.json")
    args = parser.parse_args()
    predictor = Predictor.load(args.model, verdict="rules")
    cache = datasets.DATA_DIR / "cache" / "aspects" / sentence_model_key(args.model)
    train, dev = (level.read_sets(predictor, split, tuple(FILES), cache, print) for split in ("train", "dev"))
    embed, options = predictor.model.words.units, relation_options(predictor.config)
    pretrained = pretrained_reader(args.model)
    separate = [level.read_sets(pretrained, split, tuple(FILES), cache / "pretrained", print)
                for split in ("train", "dev")]
    variants = {"target pairs (default)": (train, dev, level.SIZES),
                "separate encoder (pretrained)": (*separate, level.SIZES),
                "the target's sentence alone": ([alone(r) for r in train], [alone(r) for r in dev], level.SIZES),
                "all pairs": (train, dev, dict(level.SIZES, pairs="all")),
                "no lexicon features": ([without_lexicon(r) for r in train], [without_lexicon(r) for r in dev],
                                        level.SIZES),
                "softmax attention": (train, dev, level.SIZES, {"attention": "softmax"}),
                "hidden 128": (train, dev, dict(level.SIZES, hidden_size=128, classifier_size=128))}
    results = {**stamp(), "model": predictor.version, "epochs": args.epochs, "variants": {}}
    for name, (sets, dev_sets, sizes, *changed) in variants.items():
        head, figures = level.fit_polarity(sets, dev_sets, embed, dict(options, **(changed[0] if changed else {})),
                                           sizes, args.epochs, log=lambda m: None)
        chosen = [h for h in figures["history"] if h.get("chosen")][-1]  # the last improvement is the one kept
        row = {"epoch": chosen["epoch"], "mean_macro_f1": figures["dev_macro_f1"], "dev": chosen["dev"],
               "top3_pairs_with_target": {r.source: about_target(head, r, mx.cpu()) for r in dev_sets}}
        results["variants"][name] = row
        print(f"{name:28s} epoch {row['epoch']}  mean macro-F1 {row['mean_macro_f1']:.4f}  " + "  ".join(
            f"{s} {f['accuracy']:.3f}/{f['macro_f1']:.3f}" for s, f in row["dev"].items())
            + f"  top-3 about the target {row['top3_pairs_with_target']}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
