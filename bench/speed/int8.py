"""int8 for the encoder model, measured and not adopted (`python -m bench.speed.int8`).

MXNet 1.9's oneDNN post-training quantization (mxnet.contrib.quantization.quantize_net_v2) turns the
fine-tuned MiniLM of --model into int8 operators: its dense layers, and the attention products fused
into quantized self-attention ops. The embeddings and the relation head stay float32, so the exact
contributions would still add up. Each setting is calibrated on --calibration training sentences
(one fixed width of 64 pieces), then scored on every dev sentence against the float32 model, in one run:
dev accuracy and macro-F1, how often the label agrees, the mean and largest change of a probability, and
whole answers per second (Predictor.predict_proba over dev, tokenizing included).

Settings: per-tensor or per-channel weight scales; 'naive' ranges (the min and max seen) or the GELU
outputs' range clipped to a quantile of |x| (most are near 0, a few reach 20, so their int8 steps are
coarse); or the FFN's second dense layer kept float32.
"""
import argparse
import ctypes
import json
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet.base import NDArrayHandle, py_str

from bench.quality.accuracy import load_splits
from sentiment.evaluation.metrics import three_way
from sentiment.runtime import cpu_name

WIDTH = 64


class ClippedRanges:
    """A calibration collector: each layer output's min and max, except outputs whose name holds one of
    `clipped`, whose range is cut to the q-quantile of |x| (a strided sample of every batch)."""

    def __init__(self, clipped, quantile):
        self.clipped, self.quantile = clipped, quantile
        self.min_max_dict, self.seen, self.samples = {}, {}, {}

    def collect(self, name, handle):
        name = py_str(name)
        values = mx.nd.NDArray(ctypes.cast(handle, NDArrayHandle), writable=False).asnumpy()
        low, high = self.seen.get(name, (np.inf, -np.inf))
        self.seen[name] = low, high = min(low, float(values.min())), max(high, float(values.max()))
        if any(part in name for part in self.clipped):
            self.samples.setdefault(name, []).append(np.abs(values).ravel()[::7])
            cut = float(np.quantile(np.concatenate(self.samples[name]), self.quantile))
            low, high = max(low, -cut), min(high, cut)
        self.min_max_dict[name] = (low, high)


SETTINGS = {
    "per-tensor, min/max": dict(granularity="tensor-wise"),
    "per-channel, min/max": dict(granularity="channel-wise"),
    "per-channel, GELU outputs clipped at the 0.9999 quantile": dict(granularity="channel-wise", clip=0.9999),
    "per-channel, the FFN's second layer float32": dict(granularity="channel-wise", exclude=["ffn_2"]),
}


def read_texts(split):
    """Every corpus's rows of one split, corpus after corpus."""
    return [row for corpus in load_splits().values() for row in corpus[split]]


def calibration_batches(predictor, count, batch=32, seed=0):
    """`count` training sentences of at most WIDTH pieces, padded to WIDTH, as BERTModel's three inputs."""
    texts = [r["text"] for r in read_texts("train")]
    chosen = np.random.RandomState(seed).choice(len(texts), count, replace=False)
    encoded = [predictor.inputs.encode(predictor.tokenize(texts[i])[0]) for i in chosen]
    encoded = [e for e in encoded if predictor.inputs.length(e) <= WIDTH]
    encoded = encoded[:len(encoded) // batch * batch]
    pieces, valid = predictor.inputs.arrays(encoded)[:2]
    padded = np.full((len(encoded), WIDTH), predictor.inputs.pad_id, np.float32)
    padded[:, :pieces.shape[1]] = pieces
    data = {"data0": mx.nd.array(padded), "data1": mx.nd.zeros(padded.shape), "data2": mx.nd.array(valid)}
    return mx.io.NDArrayIter(data=data, batch_size=batch), len(encoded)


def quantized_predictor(model_path, calibration, granularity, clip=None, exclude=()):
    """A Predictor whose encoder is the int8 SymbolBlock; everything else is the bundle's float32 model."""
    from mxnet.contrib.quantization import quantize_net_v2

    from sentiment.inference.forward import EncoderForward
    from sentiment.inference.predictor import Predictor
    from sentiment.model.transformer import PieceWords

    predictor = Predictor.load(model_path, device="cpu")
    batches, count = calibration_batches(predictor, calibration)
    collector = ClippedRanges(("fully_connected_eltwise",), clip) if clip else None
    started = time.perf_counter()
    int8 = quantize_net_v2(predictor.model.words.bert, quantized_dtype="auto", quantize_mode="smart",
                           quantize_granularity=granularity, exclude_layers_match=["embed", *exclude],
                           calib_data=batches, calib_mode="customize" if clip else "naive",
                           LayerOutputCollector=collector, num_calib_examples=count)
    seconds = time.perf_counter() - started
    predictor.model.words = PieceWords(predictor.config["model"]["encoder_sizes"], bert=int8)
    inputs = predictor.inputs
    predictor.forward = EncoderForward(predictor.model, predictor.ctx, inputs.arrays([inputs.encode([inputs.unknown_word])]))
    return predictor, seconds


def score(predictor, rows, rounds=2):
    texts = [r["text"] for r in rows]
    predictor.predict_proba(texts[:64])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        probabilities = predictor.predict_proba(texts)
        times.append(time.perf_counter() - started)
    labels = np.array(predictor.labels)[probabilities.argmax(1)]
    gold = np.array([r["label"] for r in rows])
    return probabilities, {"accuracy": float((labels == gold).mean()),
                           "macro_f1": float(three_way(list(labels), list(gold))["macro_f1"]),
                           "sentences_per_second": len(texts) / min(times)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--calibration", type=int, default=512, help="training sentences to calibrate on")
    parser.add_argument("--out", default="bench/results/int8.json")
    args = parser.parse_args()
    from sentiment.inference.predictor import Predictor

    rows = read_texts("dev")
    reference = Predictor.load(args.model, device="cpu")
    base, base_metrics = score(reference, rows)
    print(f"{cpu_name()}; {len(rows)} dev sentences; {args.model} ({reference.version})", flush=True)
    print(f"  {'float32':60s} acc {base_metrics['accuracy']:.4f}  F1 {base_metrics['macro_f1']:.4f}  "
          f"{base_metrics['sentences_per_second']:6.1f}/s", flush=True)
    results = {"cpu": cpu_name(), "model": reference.version, "float32": base_metrics, "int8": {}}
    del reference
    for name, setting in SETTINGS.items():
        predictor, seconds = quantized_predictor(args.model, args.calibration, **setting)
        probabilities, metrics = score(predictor, rows)
        metrics.update(agreement=float((probabilities.argmax(1) == base.argmax(1)).mean()),
                       mean_change=float(np.abs(probabilities - base).mean()),
                       largest_change=float(np.abs(probabilities - base).max()),
                       speedup=metrics["sentences_per_second"] / base_metrics["sentences_per_second"],
                       quantize_seconds=seconds)
        results["int8"][name] = metrics
        print(f"  {name:60s} acc {metrics['accuracy']:.4f}  F1 {metrics['macro_f1']:.4f}  "
              f"{metrics['sentences_per_second']:6.1f}/s = {metrics['speedup']:.2f}x  labels agree "
              f"{metrics['agreement']:.1%}  mean |dp| {metrics['mean_change']:.4f}  max {metrics['largest_change']:.3f}  "
              f"(quantized in {seconds:.0f} s)", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
