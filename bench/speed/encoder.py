"""The encoder model's speed, side by side in one run (`python -m bench.speed.model --encoder`).

- This machine's float32 GEMM rate (FullyConnected 2048 x 2048, oneDNN), the ceiling for the rest.
- The encoder alone (the fine-tuned MiniLM of --model, hybridized), at batch 1 and 32, on 256 test
  sentences of 18-22 pieces, median of rounds; and PyTorch running the published encoder on the same
  sentences in its own venv (bench/reference/encoder_reference.py speed), in the same run.
- The same encoder as trained, before serving fuses its attention (gluonnlp's cell, which concatenates
  the query, key and value weights on every call): what sentiment.model.transformer.fuse_attention gains.
- The fused encoder with padding masked by the softmax's lengths, as gluonnlp's cell masks it, in place
  of serving's additive bias (sentiment.model.transformer.padding_bias): what the bias gains.
- The whole answer: Predictor.explain on the same sentences (tokenizing, the encoder, the relation
  network, attention), at batch 1 and 32.
- The whole answer on random batches of 32 test sentences of every length (what a loaded server's passes hold).
- GFLOP/s at batch 32: the encoder's multiply-adds x 2 per sentence (counted from the sizes) x sentences/s.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
from mxnet import nd

from sentiment.corpora.datasets import split_files
from sentiment.corpora.labelled import load_many
from sentiment.model.transformer import FusedSelfAttention, fuse_attention

ROOT = Path(__file__).resolve().parents[2]


class LengthMaskedAttention(FusedSelfAttention):
    """Serving's fused attention with padding masked by the softmax's lengths (MXNet's kernel without oneDNN)."""

    def masked_softmax(self, F, scores, valid):
        valid = F.broadcast_axis(F.expand_dims(valid, axis=1), axis=1, size=self._heads)
        return F.softmax(scores, length=valid.reshape((-1, 0), reverse=True), use_length=True, axis=-1)


def gemm_gflops(n=2048, seconds=3.0):
    a, b = nd.random.uniform(shape=(n, n)), nd.random.uniform(shape=(n, n))
    nd.FullyConnected(a, b, no_bias=True, num_hidden=n).wait_to_read()
    runs, started = [], time.time()
    while time.time() - started < seconds:
        t = time.perf_counter()
        nd.FullyConnected(a, b, no_bias=True, num_hidden=n).wait_to_read()
        runs.append(time.perf_counter() - t)
    return 2 * n**3 / float(np.median(runs)) / 1e9


def encoder_flops(sizes, pieces):
    """Multiply-adds x 2 of one sentence of `pieces` pieces through the encoder (dense layers and attention)."""
    u, inner = sizes["units"], sizes["hidden_size"]
    per_layer = pieces * (4 * u * u + 2 * u * inner) + 2 * pieces * pieces * u
    return 2 * sizes["num_layers"] * per_layer


def test_sentences(tokenizer, count=256):
    texts = load_many(split_files("test")).texts
    chosen = []
    for text in texts:
        words = tokenizer.split(text)
        if words and 18 <= 2 + sum(len(tokenizer.pieces(w)) for w in words) <= 22:
            chosen.append(text)
    return chosen[:count]


def rate(run, items, batch, rounds=5):
    """Items per second of run(chunk) over `items` in chunks of `batch`, median of rounds (after one warm-up)."""
    chunks = [items[i:i + batch] for i in range(0, len(items), batch)]
    run(chunks[0])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for chunk in chunks:
            run(chunk)
        times.append(time.perf_counter() - started)
    return len(items) / float(np.median(times))


def pytorch_rates(python):
    """The reference's sentences/s from its venv, or None with the reason."""
    if not Path(python).exists():
        return None, f"{python} not found (see bench/reference/encoder_reference.py)"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([python, str(ROOT / "bench" / "reference" / "encoder_reference.py"), "speed"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def encoder_speed(results, model_path, reference_python):
    from sentiment.inference.predictor import Predictor, load_model

    predictor = Predictor.load(model_path)
    if not predictor.config["model"].get("encoder"):
        raise SystemExit(f"{model_path} is not an encoder model")
    texts = test_sentences(predictor.tokenizer)
    sizes = predictor.config["model"]["encoder_sizes"]
    inputs = predictor.inputs
    encoded = [inputs.encode(predictor.tokenizer(t)[0]) for t in texts]
    mean_pieces = float(np.mean([inputs.length(e) for e in encoded]))
    ctx = predictor.ctx  # the GPU where MXNet sees one (bench/gpu), else the CPU
    # the encoder as training left it (gluonnlp's attention cells) beside the served, fused one
    served, unfused = predictor.model.words.bert, load_model(model_path, ctx)[-1].words.bert
    length_masked = fuse_attention(load_model(model_path, ctx)[-1].words.bert, ctx, LengthMaskedAttention)
    for bert in (served, unfused, length_masked):
        bert.hybridize(static_alloc=True)

    def alone(bert):
        def run(chunk):
            pieces, valid = inputs.arrays(chunk)[:2]
            x = nd.array(pieces, ctx=ctx)
            bert(x, nd.zeros_like(x), nd.array(valid, ctx=ctx)).wait_to_read()
        return run

    results["gemm_gflops"] = round(gemm_gflops(), 1)
    print(f"float32 GEMM 2048x2048 (oneDNN): {results['gemm_gflops']} GFLOP/s; {len(texts)} test sentences, "
          f"{mean_pieces:.1f} pieces on average (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})", flush=True)
    reference, why = pytorch_rates(reference_python)
    results["pytorch"] = reference or why
    rows = {}
    for batch in (1, 32):
        rows[f"encoder alone, batch {batch}"] = rate(alone(served), encoded, batch)
        rows[f"encoder alone, attention not fused, batch {batch}"] = rate(alone(unfused), encoded, batch)
        rows[f"encoder alone, masked by lengths, batch {batch}"] = rate(alone(length_masked), encoded, batch)
        rows[f"whole answer (Predictor.explain), batch {batch}"] = rate(
            lambda chunk: predictor.explain(chunk), texts, batch)
        if reference:
            rows[f"PyTorch {reference['torch']}, encoder alone, batch {batch}"] = reference[f"batch_{batch}"]
    mixed = load_many(split_files("test")).texts
    mixed = [mixed[i] for i in np.random.RandomState(0).permutation(len(mixed))[:640]]
    rows["whole answer, random batches of 32 test sentences"] = rate(lambda chunk: predictor.explain(chunk), mixed, 32,
                                                                      rounds=3)
    results["sentences_per_second"] = {k: round(v, 1) for k, v in rows.items()}
    flops = encoder_flops(sizes, mean_pieces)
    results["encoder_gflops_batch_32"] = round(rows["encoder alone, batch 32"] * flops / 1e9, 1)
    for name, value in rows.items():
        print(f"  {name:52s} {value:8.1f} sentences/s", flush=True)
    print(f"  encoder at batch 32: {results['encoder_gflops_batch_32']} GFLOP/s = "
          f"{results['encoder_gflops_batch_32'] / results['gemm_gflops']:.0%} of the GEMM rate "
          f"({flops / 1e9:.2f} GFLOP per sentence)", flush=True)
    for batch in (1, 32):
        gain = rows[f"encoder alone, batch {batch}"] / rows[f"encoder alone, masked by lengths, batch {batch}"]
        print(f"  batch {batch}: padding masked by an additive bias {gain:.2f}x the softmax's lengths", flush=True)
    if reference:
        for batch in (1, 32):
            answer = rows[f"whole answer (Predictor.explain), batch {batch}"] / reference[f"batch_{batch}"]
            alone = rows[f"encoder alone, batch {batch}"] / reference[f"batch_{batch}"]
            print(f"  batch {batch}: encoder alone {alone:.2f}x PyTorch's, whole answer {answer:.2f}x", flush=True)
    return results
