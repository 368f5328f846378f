"""Three MXNet/OpenBLAS environment settings measured side by side, each side in its own process.

1. OPENBLAS_CORETYPE: the OpenBLAS inside the mxnet 1.9.1 wheel does not know recent Xeons and
   falls back to its SSE3 'Prescott' kernels. Its own detection against the kernels for this CPU
   (from /proc/cpuinfo): nd.dot 2048x2048 GFLOP/s, and model sentences/s (E=100, H=128, as
   bench/speed) at T=64 batch 8 and T=16 batch 1. `sentiment` does not set it: the model did not
   get faster. bench/speed uses it for the machine's nd.dot rate.
2. MXNET_CPU_PARALLEL_SIZE, which `import sentiment` raises from 200,000 elements to 2^31 - 1: model
   sentences/s (T=64 batch 8) after one 1M-element NumPy copy in the main thread, as training's
   GloVe matrix or an evaluation's asnumpy makes; MXNet's default copies it with a second OpenMP team.
3. MXNET_MKLDNN_CACHE_NUM, which `import sentiment` sets to 128: every batch shape the scorer can
   form (T = 8..64, B up to 32k pairs), scored twice, bounded against unbounded: peak RSS, and the
   seconds of the second pass (an unbounded cache hits there; a bounded one rebuilds primitives),
   median of 5 runs a side.

    python -m bench.speed.environment
"""
import json
import statistics
from pathlib import Path

from sentiment.runtime import openblas_core
from tests.helpers import probe

CACHE_RUNS = 5

# A fresh model as bench/speed sizes it (E=100, H=128); `timed` as bench/speed times.
MODEL = """
import json, os, numpy as np, sentiment, mxnet as mx
from bench.speed.model import timed
from sentiment.model.relation import RelationAttentionClassifier
model = RelationAttentionClassifier(20000, 2, embed_size=100, hidden_size=128)
model.initialize(mx.init.Xavier()); model.hybridize(static_alloc=True)
def sentences_per_second(batch, length):
    tokens, mask = mx.nd.array(np.random.randint(1, 20000, (batch, length))), mx.nd.ones((batch, length))
    return batch / timed(lambda: model(tokens, mask)[0].wait_to_read())
"""

MODEL_PROBE = MODEL + """
print(json.dumps({f"sentences_per_second_B{b}_T{t}": sentences_per_second(b, t) for b, t in ((8, 64), (1, 16))}))
"""

COPY_PROBE = MODEL + """
mx.nd.zeros((1 << 20,)).asnumpy()  # one large copy to NumPy in this (the main) thread
print(json.dumps({"sentences_per_second_B8_T64": sentences_per_second(8, 64),
                  "threads": len(os.listdir("/proc/self/task"))}))
"""

CACHE_PROBE = """
import json, resource, time, numpy as np, sentiment, mxnet as mx
from sentiment.model.relation import RelationAttentionClassifier
from sentiment.inference.predictor import MAX_PAIRS
model = RelationAttentionClassifier(20000, 2); model.initialize(mx.init.Xavier()); model.hybridize(static_alloc=True)
shapes = [(b, t) for t in range(8, 65, 8) for b in range(1, MAX_PAIRS // (t * t) + 1)]
batches = [(mx.nd.array(np.random.randint(1, 20000, s)), mx.nd.ones(s)) for s in shapes]
seconds = []
for _ in range(2):
    start = time.perf_counter()
    for tokens, mask in batches:
        model(tokens, mask)[1].wait_to_read()
    seconds.append(time.perf_counter() - start)
print(json.dumps({"shapes": len(shapes), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "second_pass_seconds": seconds[1]}))
"""


DOT_PROBE = """
import json, sentiment, mxnet as mx
from bench.speed.model import timed
a, b = mx.nd.random.uniform(shape=(2048, 2048)), mx.nd.random.uniform(shape=(2048, 2048))
print(json.dumps({"dot_gflops": 2 * 2048 ** 3 / timed(lambda: mx.nd.dot(a, b).wait_to_read()) / 1e9}))
"""


def dot_gflops_with_cpu_kernels():
    """The machine's nd.dot 2048x2048 rate with OpenBLAS kernels for this CPU (its own detection if unknown)."""
    return probe(DOT_PROBE, OPENBLAS_CORETYPE=openblas_core())["dot_gflops"]


def main():
    results = {}
    core = openblas_core()
    results["openblas"] = {}
    for name, value in ((f"{core} (this CPU's kernels)", core), ("unset (OpenBLAS's own detection)", None)):
        results["openblas"][name] = {**probe(DOT_PROBE, OPENBLAS_CORETYPE=value),
                                     **probe(MODEL_PROBE, OPENBLAS_CORETYPE=value)}
    ours, fallback = results["openblas"].values()
    print("OPENBLAS_CORETYPE                 nd.dot GFLOP/s  model sentences/s: T=64 batch 8, T=16 batch 1")
    for name, r in results["openblas"].items():
        print(f"  {name:32s} {r['dot_gflops']:8.1f} {r['sentences_per_second_B8_T64']:12.1f} "
              f"{r['sentences_per_second_B1_T16']:12.1f}")
    print("  ratios: " + ", ".join(f"{key.replace('sentences_per_second_', 'model ')} {ours[key] / fallback[key]:.2f}x"
                                   for key in ours))

    results["parallel_copy"] = {"2^31-1 (sentiment's default)": probe(COPY_PROBE, MXNET_CPU_PARALLEL_SIZE=None),
                                "200000 (MXNet's default)": probe(COPY_PROBE, MXNET_CPU_PARALLEL_SIZE="200000")}
    raised, default = results["parallel_copy"].values()
    print("\nMXNET_CPU_PARALLEL_SIZE           model sentences/s after a 1M-element copy  threads")
    for name, r in results["parallel_copy"].items():
        print(f"  {name:32s} {r['sentences_per_second_B8_T64']:12.1f} {r['threads']:28d}")
    print(f"  ratio: {raised['sentences_per_second_B8_T64'] / default['sentences_per_second_B8_T64']:.2f}x "
          "with sentiment's default")

    # Peak RSS of one run varies by up to 2x here (allocation timing), so each side runs CACHE_RUNS times,
    # alternating, and the medians are compared.
    sides = {"128 (sentiment's default)": None, "unbounded (MXNet's default)": "-1"}
    runs = {name: [] for name in sides}
    for _ in range(CACHE_RUNS):
        for name, value in sides.items():
            runs[name].append(probe(CACHE_PROBE, MXNET_MKLDNN_CACHE_NUM=value))
    results["mkldnn_cache"] = {name: {key: [r[key] for r in rs] for key in ("peak_rss_mib", "second_pass_seconds")}
                               for name, rs in runs.items()}
    shapes = runs[next(iter(sides))][0]["shapes"]
    medians = {name: {key: statistics.median(v) for key, v in r.items()} for name, r in results["mkldnn_cache"].items()}
    print(f"\nMXNET_MKLDNN_CACHE_NUM   every batch shape ({shapes}) scored twice, "
          f"{CACHE_RUNS} runs a side: median (min-max)")
    print("                                  peak RSS MiB             second pass s")
    for name, r in results["mkldnn_cache"].items():
        peak, seconds = r["peak_rss_mib"], r["second_pass_seconds"]
        print(f"  {name:32s} {medians[name]['peak_rss_mib']:6.1f} ({min(peak):.0f}-{max(peak):.0f})"
              f"   {medians[name]['second_pass_seconds']:6.2f} ({min(seconds):.2f}-{max(seconds):.2f})")
    bounded, unbounded = medians.values()
    print(f"  ratio of medians: memory {unbounded['peak_rss_mib'] / bounded['peak_rss_mib']:.2f}x less with the "
          f"bound, second pass {bounded['second_pass_seconds'] / unbounded['second_pass_seconds']:.2f}x the time")
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/environment.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
