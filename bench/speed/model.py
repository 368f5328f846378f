"""Forward and training speed of the production model against the article's own Block, side by side.

1. The machine's float32 matrix-multiply rate (nd.dot, 2048 x 2048), measured in the same run.
2. Fixed T in {32, 64, 128} and batch in {1, 32, 256}: production (factorised, hybridized, chunked) against the
   article's Block (repeat + concat) with the same weights copied across, outputs checked equal.
3. The real test sentences: production path (length buckets, masks, hybridized) against the article's
   path (every sentence padded to one fixed length).
4. Training sentences per second on the real training split: our loop against the article's loop.
5. Peak resident memory for a batch of 256 at T=128, chunked (production) and in one piece.
6. The cost of exact contributions on the shipped model: Predictor.explain with attention against the same
   with contributions, on the real test sentences, all at once and one at a time.
7. The served pass, lever by lever (served_pass): Predictor.explain for 1, 8 and 32 sentences through the
   training graph, the served graph, and the served graph with fixed shapes or oneDNN fusion; operator
   counts; every variant's answers against the training graph's.

8. An encoder model (--encoder): bench/speed/encoder.py, beside PyTorch running the same encoder.

    python -m bench.speed.model [--quick] [--served] [--model models/default]
    python -m bench.speed.model --encoder [--model models/default] [--reference-python .venv-reference/bin/python]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd

import sentiment  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
from bench.speed.environment import dot_gflops_with_cpu_kernels
from sentiment.inference.batching import length_chunks, pad_batch
from sentiment.model.article import ArticleClassifier, SentenceRepresentation, copy_weights
from sentiment.model.relation import RelationAttentionClassifier

E, H, C, VOCAB = 100, 128, 128, 20000


def timed(fn, min_seconds=2.0, min_runs=3, warmup_seconds=1.0):
    """Median seconds per call, after calling fn for warmup_seconds (at least once).

    This virtual machine runs the first second or so of a new workload slower (single calls at
    T=64, batch 256 measured 512-697 sentences/s, then ~800), so every side warms up the same way.
    """
    started = time.time()
    fn()
    while time.time() - started < warmup_seconds:
        fn()
    runs, started = [], time.time()
    while len(runs) < min_runs or time.time() - started < min_seconds:
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return float(np.median(runs))


def matmul_gflops(n=2048):
    """(nd.dot rate, FullyConnected rate) in GFLOP/s: OpenBLAS and oneDNN float32 matrix multiply.

    nd.dot runs in a child process with OpenBLAS's kernels for this CPU (bench/environment): the
    wheel's OpenBLAS would otherwise fall back to SSE3 kernels and understate the machine.
    """
    a, b = nd.random.uniform(shape=(n, n)), nd.random.uniform(shape=(n, n))
    fc = timed(lambda: nd.FullyConnected(a, b, no_bias=True, num_hidden=n).wait_to_read())
    return dot_gflops_with_cpu_kernels(), 2 * n**3 / fc / 1e9


def flops_production(T):
    """Multiply-adds x2 of the factorised forward for one sentence of padded length T (dominant terms)."""
    per_token = 2 * T * E * H * 2 + 2 * T * E * 2
    pairs = T * T * (2 * H * H + 4 * H)  # second pair layer, plus broadcast-add, ReLUs, weighted sum
    return per_token + pairs + 2 * H * C + 2 * C * 2


def flops_article(T):
    return T * T * (2 * 2 * E * H + 2 * H * H + 2 * 2 * E + 3 * H) + 2 * H * C + 2 * C * 2


def make_pair(T):
    """A production classifier and the article's, with the same weights."""
    mx.random.seed(0)
    classifier = gluon.nn.Sequential()
    classifier.add(gluon.nn.Dense(C, activation="relu", in_units=H), gluon.nn.Dense(2, in_units=C))
    article = ArticleClassifier(SentenceRepresentation(VOCAB, E, H, T, weighting="softmax"), classifier)
    article.initialize(mx.init.Xavier())
    article(nd.zeros((1, T)))
    production = RelationAttentionClassifier(VOCAB, 2, embed_size=E, hidden_size=H, classifier_size=C)
    production.initialize()
    copy_weights(article.sen_rep, production.encoder)
    for ours, theirs in zip(production.classifier[::2], article.classifier):
        ours.weight.set_data(theirs.weight.data())
        ours.bias.set_data(theirs.bias.data())
    production.hybridize(static_alloc=True)  # exactly as Predictor.load does
    return production, article


def chunked(production, tokens, mask, max_pairs):
    """The production path: a batch is scored in chunks of at most max_pairs padded pairs."""
    T = tokens.shape[1]
    pieces = [(tokens[chunk[0]:chunk[-1] + 1], mask[chunk[0]:chunk[-1] + 1])
              for chunk in length_chunks([T] * tokens.shape[0], max_pairs)]
    return lambda: [production(t, m)[0].wait_to_read() for t, m in pieces]


def fixed_length(results, batches, lengths, max_pairs):
    print("\nfixed T, random tokens: sentences per second", flush=True)
    print(f"{'T':>4} {'batch':>6} {'article':>10} {'production':>11} {'ratio':>7} {'GFLOP/s':>8} {'% matmul':>8}")
    for T in lengths:
        production, article = make_pair(T)
        for B in batches:
            tokens = nd.array(np.random.RandomState(T + B).randint(1, VOCAB, (B, T)))
            mask = nd.ones((B, T))
            ours, theirs = production(tokens, mask), article(tokens)
            np.testing.assert_allclose(ours[0].asnumpy(), theirs[0].asnumpy(), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(ours[1].asnumpy(), theirs[1].asnumpy().transpose(0, 2, 1), atol=1e-6)
            t_prod = timed(chunked(production, tokens, mask, max_pairs))
            t_art = timed(lambda: article(tokens)[0].wait_to_read(), min_seconds=1.0, min_runs=2)
            gflops = B * flops_production(T) / t_prod / 1e9
            row = {"T": T, "batch": B, "article_sps": B / t_art, "production_sps": B / t_prod,
                   "ratio": t_art / t_prod, "production_gflops": gflops,
                   "percent_of_matmul": 100 * gflops / results["matmul_gflops"],
                   "flops_per_sentence_production": flops_production(T), "flops_per_sentence_article": flops_article(T)}
            results["fixed"].append(row)
            print(f"{T:>4} {B:>6} {row['article_sps']:>10.1f} {row['production_sps']:>11.1f} {row['ratio']:>6.1f}x "
                  f"{gflops:>8.1f} {row['percent_of_matmul']:>7.1f}%", flush=True)


def real_sentences(results, max_pairs):
    from sentiment.corpora.datasets import prepare, split_files
    from sentiment.corpora.labelled import load_many
    from sentiment.text.tokenizer import Tokenizer

    prepare()
    texts = load_many(split_files("test")).texts
    tokenizer = Tokenizer(max_len=64)
    ids = [[1 + hash(t) % (VOCAB - 1) for t in tokenizer(text)[0]] for text in texts]
    fixed_T = 64
    production, article = make_pair(fixed_T)

    def ours():
        for chunk in length_chunks([len(x) for x in ids], max_pairs):
            tokens, mask = pad_batch([ids[i] for i in chunk], pad_id=0)
            production(nd.array(tokens), nd.array(mask))[0].wait_to_read()

    def theirs():
        for start in range(0, len(ids), 256):
            tokens, _ = pad_batch(ids[start:start + 256], pad_id=0, length=fixed_T)
            article(nd.array(tokens))[0].wait_to_read()

    t_prod, t_art = timed(ours), timed(theirs, min_runs=2)
    results["real"] = {"sentences": len(ids), "fixed_T": fixed_T, "production_sps": len(ids) / t_prod,
                       "article_sps": len(ids) / t_art, "ratio": t_art / t_prod}
    print(f"\nreal test sentences ({len(ids)}): article (padded to T={fixed_T}) {len(ids) / t_art:.1f}/s, "
          f"production (buckets + masks) {len(ids) / t_prod:.1f}/s: {t_art / t_prod:.1f}x", flush=True)


def training(results, batches=60):
    from sentiment.corpora.datasets import split_files
    from sentiment.corpora.labelled import load_many
    from sentiment.text.tokenizer import Tokenizer

    texts, labels, _, _ = load_many(split_files("train"))
    tokenizer = Tokenizer(max_len=64)
    ids = [[1 + hash(t) % (VOCAB - 1) for t in tokenizer(text)[0]] for text in texts]
    y = np.array([label == "positive" for label in labels], dtype=np.float32)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    production, article = make_pair(64)

    def epoch_part(model, batch_iter):
        trainer = gluon.Trainer(model.collect_params(), "adam", {"learning_rate": 1e-3})
        seen, started = 0, time.time()
        for n, (tokens, mask, labels_) in enumerate(batch_iter()):
            if n == batches:
                break
            with autograd.record():
                logits = model(*(nd.array(tokens), nd.array(mask)) if mask is not None else (nd.array(tokens),))[0]
                loss = loss_fn(logits, nd.array(labels_))
            loss.backward()
            trainer.step(len(labels_))
            loss.wait_to_read()
            seen += len(labels_)
        return seen / (time.time() - started)

    rng = np.random.RandomState(0)
    order = rng.permutation(len(ids))

    def ours():  # length buckets: batches of similar length, shuffled
        by_length = sorted(order, key=lambda i: len(ids[i]))
        chunks = [by_length[i:i + 32] for i in range(0, len(by_length), 32)]
        for k in rng.permutation(len(chunks)):
            tokens, mask = pad_batch([ids[i] for i in chunks[k]], pad_id=0)
            yield tokens, mask, y[chunks[k]]

    def theirs():  # every sentence padded to T=64
        for start in range(0, len(order), 32):
            chunk = order[start:start + 32]
            tokens, _ = pad_batch([ids[i] for i in chunk], pad_id=0, length=64)
            yield tokens, None, y[chunk]

    ours_sps, theirs_sps = epoch_part(production, ours), epoch_part(article, theirs)
    results["training"] = {"production_sps": ours_sps, "article_sps": theirs_sps, "ratio": ours_sps / theirs_sps,
                           "batches": batches, "batch_size": 32}
    print(f"\ntraining, real training sentences, batch 32: article loop {theirs_sps:.1f}/s, "
          f"ours {ours_sps:.1f}/s: {ours_sps / theirs_sps:.1f}x", flush=True)


def contributions_cost(results, model):
    from sentiment.corpora.datasets import split_files
    from sentiment.corpora.labelled import load_many
    from sentiment.inference.predictor import Predictor

    predictor = Predictor.load(model)
    texts = load_many(split_files("test")).texts
    results["contributions"] = {"model": predictor.version}
    print(f"\nexact contributions, model {predictor.version}, real test sentences:", flush=True)
    for name, batch in (("all at once", texts), ("one at a time", texts[:200])):
        def plain():
            return [predictor.explain(batch)] if len(batch) > 200 else [predictor.explain([t]) for t in batch]

        def explained():
            if len(batch) > 200:
                return [predictor.explain(batch, contributions=True)]
            return [predictor.explain([t], contributions=True) for t in batch]

        t_plain, t_explained = timed(plain), timed(explained)
        results["contributions"][name] = {"sentences": len(batch), "attention_sps": len(batch) / t_plain,
                                          "contributions_sps": len(batch) / t_explained,
                                          "ratio": t_explained / t_plain}
        print(f"  {name:14s} ({len(batch)}): with attention {len(batch) / t_plain:8.1f}/s, with contributions "
              f"{len(batch) / t_explained:8.1f}/s: {t_explained / t_plain:.2f}x the time", flush=True)


def operator_count(block):
    """Operators (not inputs or parameters) in a hybridized block's cached graph."""
    return sum(node["op"] != "null" for node in json.loads(block._cached_graph[1].tojson())["nodes"])


def max_difference(answers, reference):
    """The largest difference in probabilities, attention or contributions between the sentences of two lists of
    answers."""
    pairs = [(a, b) for x, y in zip(answers, reference) for a, b in zip(x["sentences"], y["sentences"])]
    differences = [abs(a["probabilities"][k] - b["probabilities"][k]) for a, b in pairs for k in a["probabilities"]]
    return max(differences + [float(np.abs(a[k] - b[k]).max()) for a, b in pairs for k in ("attention",
                                                                                          "contributions")])


def served_pass(results, model, seconds=2.0):
    """Predictor.explain on real test sentences (1, 8 and 32 per call; 1 with contributions), one lever at a
    time: the training graph, then the served graph (features from NumPy, one copy each way), then fixed
    shapes and oneDNN fusion on top. Each variant's answers are checked against the training graph's."""
    from sentiment.corpora.datasets import split_files
    from sentiment.corpora.labelled import load_many
    from sentiment.inference.forward import GraphForward, ServedForward
    from sentiment.inference.predictor import Predictor

    predictor = Predictor.load(model)
    texts = load_many(split_files("test")).texts
    model_, ctx = predictor.model, predictor.ctx
    variants = {"training graph (features in the graph)": lambda: GraphForward(model_, ctx),
                "served graph (features from NumPy, one copy in, one out)":
                    lambda: ServedForward(model_, ctx, static_pairs=0),
                "served + fixed shapes up to 2,048 pairs (the default)": lambda: ServedForward(model_, ctx),
                "served + fixed shapes + oneDNN fusion (optimize_for MKLDNN)":
                    lambda: ServedForward(model_, ctx, backend="MKLDNN")}
    calls = {"1 sentence": texts[:1], "8 sentences": texts[:8], "32 sentences": texts[:32]}
    results["served"] = {"model": predictor.version, "variants": {}}
    print(f"\nPredictor.explain, model {predictor.version}, real test sentences (ms per call):", flush=True)
    served, reference = predictor.forward, None
    for name, make in variants.items():
        predictor.forward = make()
        row = {label: 1000 * timed(lambda: predictor.explain(batch), min_seconds=seconds)
               for label, batch in calls.items()}
        row["1 with contributions"] = 1000 * timed(lambda: predictor.explain(texts[:1], contributions=True),
                                                   min_seconds=seconds)
        answers = predictor.explain(texts[:64], contributions=True)
        reference = reference or answers
        row["max_difference"] = max_difference(answers, reference)
        graphs = getattr(predictor.forward, "graphs", None)
        row["operators"] = operator_count(next(iter(graphs.values())) if graphs else predictor.forward.model)
        results["served"]["variants"][name] = row
        timings = "  ".join(f"{k} {row[k]:6.3f}" for k in (*calls, "1 with contributions"))
        print(f"  {name:58s} {timings}  operators {row['operators']}  max difference {row['max_difference']:.1e}",
              flush=True)
    predictor.forward = served


MEMORY_PROBE = """
import sys, mxnet as mx, numpy as np
from mxnet import nd
from bench.speed.model import make_pair
from sentiment.inference.batching import length_chunks, pad_batch
production, _ = make_pair(128)
max_pairs = int(sys.argv[1])
ids = [list(np.random.RandomState(i).randint(1, 20000, 128)) for i in range(256)]
for chunk in length_chunks([128] * 256, max_pairs):
    tokens, mask = pad_batch([ids[i] for i in chunk], pad_id=0)
    production(nd.array(tokens), nd.array(mask))[0].wait_to_read()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so it would report the parent's peak.
print([int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024)
"""


def memory(results, max_pairs):
    print("\npeak RSS, batch 256 at T=128:", flush=True)
    results["memory"] = {}
    for name, pairs in (("chunked", max_pairs), ("one piece", 256 * 128 * 128)):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(pairs)], capture_output=True, text=True,
                             check=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
        mib = float(out.stdout.split()[-1])
        results["memory"][name] = mib
        print(f"  {name:10s} (max pairs per pass {pairs:>9,}): {mib:8.1f} MiB", flush=True)


def main():
    from sentiment.inference.predictor import MAX_PAIRS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="T=32,64 and batch 1,32 only")
    parser.add_argument("--model", default="models/default", help="bundle for the contributions cost")
    parser.add_argument("--served", action="store_true", help="only the served pass, lever by lever")
    parser.add_argument("--encoder", action="store_true", help="only the encoder model's speed (bench/encoder_speed)")
    parser.add_argument("--reference-python", default=".venv-reference/bin/python",
                        help="the reference venv's python (bench/reference/encoder_reference.py)")
    args = parser.parse_args()
    if args.encoder:
        from bench.speed.encoder import encoder_speed

        results = encoder_speed({"threads": os.environ.get("OMP_NUM_THREADS")}, args.model, args.reference_python)
        Path("bench/results").mkdir(parents=True, exist_ok=True)
        Path("bench/results/speed-encoder.json").write_text(json.dumps(results, indent=2) + "\n")
        return
    if args.served:
        results = {"threads": os.environ.get("OMP_NUM_THREADS")}
        served_pass(results, args.model)
        Path("bench/results").mkdir(parents=True, exist_ok=True)
        Path("bench/results/speed-served.json").write_text(json.dumps(results, indent=2) + "\n")
        return
    results = {"threads": os.environ.get("OMP_NUM_THREADS"), "E": E, "H": H, "fixed": []}
    results["dot_gflops"], results["fc_gflops"] = matmul_gflops()
    results["matmul_gflops"] = max(results["dot_gflops"], results["fc_gflops"])
    print(f"float32 2048x2048 matrix multiply: nd.dot {results['dot_gflops']:.1f} GFLOP/s, FullyConnected "
          f"(oneDNN) {results['fc_gflops']:.1f} GFLOP/s; '% of matmul' below uses the faster "
          f"(OMP_NUM_THREADS={results['threads']}, E={E}, H={H})", flush=True)
    fixed_length(results, [1, 32] if args.quick else [1, 32, 256], [32, 64] if args.quick else [32, 64, 128],
                 MAX_PAIRS)
    real_sentences(results, MAX_PAIRS)
    training(results)
    memory(results, MAX_PAIRS)
    contributions_cost(results, args.model)
    served_pass(results, args.model)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/speed.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
