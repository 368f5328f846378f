"""The encoder model's training step, lever by lever, side by side in one process.

Four copies of the encoder model, each with its own trainer, take turns on batches of the real
training split (sentiment.training.loop's own step: the batch's arrays, forward, loss, backward, clipping,
Adam):
1. MXNet's LayerNorm and 8 length buckets (the recipe before);
2. LayerNorms made of matrix products (sentiment.model.transformer.GemmLayerNorm), 8 length buckets;
3. and shuffled pools of 100 batches, each sorted by length (the recipe now);
4. and the piece embeddings frozen (`--freeze-embeddings`, an option).
Copies 1 and 2 take the same batches, so their ratio is the step's alone; copies 3 and 4 take the
sorted sampler's batches, drawn the same way, so the rate compared is pieces (not padding) per
second. Also printed: the padded pieces of an epoch under each sampler.

    python -m bench.speed.encoder_training [--batches 60]
"""
import argparse
import json
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import gluon

import sentiment  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
from sentiment.inference.kinds import PretrainedEncoder
from sentiment.training.config import TrainConfig
from sentiment.training.fit import build
from sentiment.training.loop import backward_pass, batch_sampler, clipped_update, seed_everything
from sentiment.training.prepare import prepare_data

VARIANTS = {"MXNet LayerNorm, 8 length buckets (before)": dict(gemm=False, sorted=False, freeze=False),
            "GEMM LayerNorm, 8 length buckets": dict(gemm=True, sorted=False, freeze=False),
            "GEMM LayerNorm, sorted pools (the recipe)": dict(gemm=True, sorted=True, freeze=False),
            "GEMM LayerNorm, sorted pools, embeddings frozen": dict(gemm=True, sorted=True, freeze=True)}


class MXNetLayerNorms(PretrainedEncoder):
    """The encoder kind with MXNet's own LayerNorms (the recipe before)."""

    @staticmethod
    def speed_up(bert):
        pass


def padded_pieces(sampler, lengths):
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in sampler)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=60, help="timed steps per copy (after 3 unmeasured)")
    args = parser.parse_args()
    config = TrainConfig(progress=False)
    settings = config.optimisation
    seed_everything(settings.seed)
    ctx = mx.cpu()
    prepared = prepare_data(config, log=lambda m: None)
    lengths = [prepared.inputs.length(ids) for ids in prepared.train_ids]
    results = {"pieces": sum(lengths), "sentences": len(lengths), "variants": {}}
    by_sampler = {is_sorted: batch_sampler(lengths, settings.batch_size, is_sorted) for is_sorted in (False, True)}
    for is_sorted, sampler in by_sampler.items():
        padded = padded_pieces(sampler, lengths)
        results["sorted_padded_pieces" if is_sorted else "buckets_padded_pieces"] = padded
        print(f"{'sorted pools of 100 batches' if is_sorted else '8 length buckets'}: {padded:,} padded pieces an "
              f"epoch for {sum(lengths):,} pieces ({padded / sum(lengths) - 1:.1%} padding)", flush=True)
    rng = np.random.RandomState(1)
    picks = {}
    for is_sorted, sampler in by_sampler.items():
        batches = list(sampler)
        picks[is_sorted] = [batches[i] for i in rng.choice(len(batches), args.batches + 3, replace=False)]
    copies = {}
    for name, lever in VARIANTS.items():
        seed_everything(settings.seed)
        variant = TrainConfig(progress=False, freeze_embeddings=lever["freeze"])
        if not lever["gemm"]:
            variant.words.kind = MXNetLayerNorms()
        _, model = build(variant, prepared, ctx)
        trainable = {k: p for k, p in model.collect_params().items() if p.grad_req != "null"}
        copies[name] = (model, trainable, gluon.Trainer(trainable, "adam", {"learning_rate": settings.lr}))
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    seconds, seen = {name: 0.0 for name in VARIANTS}, {name: 0 for name in VARIANTS}
    for k in range(args.batches + 3):
        for name, (model, trainable, trainer) in copies.items():
            indices = picks[VARIANTS[name]["sorted"]][k]
            mx.nd.waitall()
            started = time.perf_counter()
            backward_pass(model, loss_fn, prepared, indices, config, ctx)
            clipped_update(trainer, trainable, len(indices), settings.clip, ctx)
            mx.nd.waitall()
            if k >= 3:  # the first steps plan the graph's memory
                seconds[name] += time.perf_counter() - started
                seen[name] += sum(lengths[i] for i in indices)
    first = seen[next(iter(VARIANTS))] / seconds[next(iter(VARIANTS))]
    print(f"\ntraining steps, batch {settings.batch_size}, {args.batches} random batches each (pieces, padding not "
          f"counted):")
    for name in VARIANTS:
        rate = seen[name] / seconds[name]
        results["variants"][name] = {"pieces_per_second": round(rate, 1), "ratio": round(rate / first, 3),
                                     "trainable_parameters": sum(p.data().size for p in copies[name][1].values())}
        print(f"  {name:50s} {rate:6.0f} pieces/s  {rate / first:.2f}x  (an epoch's {sum(lengths):,}: "
              f"{sum(lengths) / rate:.0f} s)", flush=True)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/encoder-training.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
