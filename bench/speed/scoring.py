"""Batch-scoring throughput and memory, measured side by side in one run.

On the real test sentences repeated to --records: a one-sentence-at-a-time loop (the naive
baseline), `sentiment score` in one process, and `sentiment score --dask local:2`; then the
peak resident memory of `sentiment score` on 10,000 and on --memory-lines lines.

    python -m bench.speed.scoring [--model models/default] [--records 100000] [--memory-lines 1000000]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from sentiment.corpora.datasets import prepare, split_files
from sentiment.corpora.labelled import load_many
from sentiment.inference.predictor import Predictor


def write_repeated(path, sentences, n):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(sentences[i % len(sentences)].replace("\n", " ") + "\n")
    return path


def run_measured(args):
    """(seconds, peak RSS in MiB of the process tree) of a command."""
    started = time.time()
    process = psutil.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.time() - started
    if process.returncode != 0:
        raise SystemExit(f"{args} failed:\n{process.stderr.read().decode()}")
    return seconds, peak / 2**20


def score_command(model, source, out, *extra):
    return [sys.executable, "-m", "sentiment", "score", str(source), "--model", model, "--out", str(out),
            "--no-progress", *extra]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--records", type=int, default=100_000, help="0 skips the throughput runs")
    parser.add_argument("--memory-lines", type=int, default=1_000_000, help="0 skips the memory runs")
    parser.add_argument("--naive-records", type=int, default=3000, help="records for the one-at-a-time loop")
    args = parser.parse_args()
    prepare()
    sentences = load_many(split_files("test")).texts
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.records:
            source = write_repeated(tmp / "in.txt", sentences, args.records)

            predictor = Predictor.load(args.model)
            started = time.time()
            for text in (sentences * (args.naive_records // len(sentences) + 1))[: args.naive_records]:
                predictor.explain([text], attention=False)
            naive = args.naive_records / (time.time() - started)
            results["naive_loop_records_per_second"] = round(naive, 1)
            print(f"one sentence at a time (in-process loop): {naive:8.1f} records/s", flush=True)

            for name, extra in (("single_process", ()), ("dask_local_2_workers", ("--dask", "local:2"))):
                seconds, peak = run_measured(score_command(args.model, source, tmp / f"{name}.jsonl", *extra))
                rate = args.records / seconds
                results[name] = {"records": args.records, "seconds": round(seconds, 1),
                                 "records_per_second": round(rate, 1), "peak_rss_mib": round(peak, 1),
                                 "speedup_vs_naive": round(rate / naive, 2)}
                print(f"{name:40s} {rate:8.1f} records/s  ({seconds:.1f} s for {args.records}, "
                      f"peak RSS {peak:.0f} MiB, {rate / naive:.1f}x the naive loop)", flush=True)

        if args.memory_lines:
            memory = {}
            for lines in (10_000, args.memory_lines):
                path = write_repeated(tmp / f"m{lines}.txt", sentences, lines)
                seconds, peak = run_measured(score_command(args.model, path, tmp / f"m{lines}.jsonl"))
                memory[lines] = peak
                results[f"memory_{lines}_lines"] = {"seconds": round(seconds, 1), "peak_rss_mib": round(peak, 1)}
                print(f"peak RSS scoring {lines:>9,} lines: {peak:7.1f} MiB ({seconds:.1f} s)", flush=True)
                path.unlink()
            ratio = memory[args.memory_lines] / memory[10_000]
            results["memory_ratio"] = round(ratio, 3)
            print(f"memory ratio {args.memory_lines:,} / 10,000 lines: {ratio:.3f}")
    out = Path(f"bench/results/scoring-{args.records}-{args.memory_lines}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
