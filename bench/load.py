"""The server under load: wrk against gunicorn on 127.0.0.1, every answer with the attention matrix.

For each server layout, 20 s at concurrency 1, 8 and 32, with single texts and with batches of 32
real test sentences. Prints requests/s, p50/p95/p99 latency and errors (non-2xx + socket errors).
With --compare, the same runs for other bundles (the article's structure, say), then each one's
requests/s as a ratio of the first model's.

    python -m bench.load [--model models/default] [--compare BUNDLE ...] [--seconds 20] [--layouts microbatch,plain,...]
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from sentiment.data import load_many, prepare, split_files
from tests.helpers import Gunicorn

LAYOUTS = {  # name: (description, gunicorn/service environment)
    "microbatch": ("2 workers x 4 threads, micro-batching", {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4"}),
    "plain": ("2 workers x 4 threads, no micro-batching",
              {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4", "SENTIMENT_MICROBATCH": "0"}),
    "one-worker": ("1 worker x 8 threads, micro-batching", {"SENTIMENT_WORKERS": "1", "SENTIMENT_THREADS": "8"}),
    "wait2ms": ("2 workers x 4 threads, micro-batching waiting up to 2 ms",
                {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4", "SENTIMENT_MICROBATCH_WAIT_MS": "2"}),
}

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/predict", nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "socket_errors": %%d, "non_2xx": %%d, "p50_ms": %%.3f, ' ..
    '"p95_ms": %%.3f, "p99_ms": %%.3f, "seconds": %%.3f}\\n', summary.requests, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
"""


def lua_script(path, bodies):
    quoted = ",".join("[==[" + json.dumps(body) + "]==]" for body in bodies)
    path.write_text(LUA % quoted)
    return path


def run_wrk(url, script, connections, seconds):
    threads = min(2, connections)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["requests_per_second"] = result["requests"] / result["seconds"]
    result["errors"] = result["socket_errors"] + result["non_2xx"]
    return result


def print_ratios(results, model, others):
    """Each other bundle's requests/s over the first model's, run for run."""
    if not others:
        return
    first = {(r["layout"], r["body"], r["concurrency"]): r["requests_per_second"] for r in results if r["model"] == model}
    print(f"\nrequests/s as a ratio of {model}'s (same layout, body and concurrency):", flush=True)
    for other in others:
        for r in results:
            if r["model"] == other:
                ratio = r["requests_per_second"] / first[(r["layout"], r["body"], r["concurrency"])]
                print(f"  {other}: {r['layout']}, {r['body']} at {r['concurrency']}: {ratio:.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--compare", nargs="*", default=[], help="other bundles run the same way, after --model")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated: " + ", ".join(LAYOUTS))
    args = parser.parse_args()
    prepare()
    sentences = load_many(split_files("test")).texts
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {
            "single": lua_script(Path(tmp) / "single.lua", [{"text": s} for s in sentences]),
            "batch32": lua_script(Path(tmp) / "batch.lua", [{"texts": sentences[i:i + 32]}
                                                            for i in range(0, len(sentences) - 32, 32)]),
        }
        for model, layout in [(m, layout) for m in [args.model, *args.compare] for layout in args.layouts.split(",")]:
            description, env = LAYOUTS[layout]
            server = Gunicorn(model, extra_env=env, log_path=Path(tmp) / "gunicorn.log")
            server.wait("/ready", timeout=120)
            try:
                print(f"\n{model}: {description}", flush=True)
                print(f"  {'body':8s} {'conc':>4} {'req/s':>8} {'texts/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
                      f"{'p99 ms':>7} {'errors':>6}", flush=True)
                for body, script in scripts.items():
                    run_wrk(server.url, script, 4, 2)  # warm-up
                    for connections in (1, 8, 32):
                        r = run_wrk(server.url, script, connections, args.seconds)
                        texts = r["requests_per_second"] * (32 if body == "batch32" else 1)
                        results.append({"model": model, "layout": description, "body": body,
                                        "concurrency": connections, **r})
                        print(f"  {body:8s} {connections:>4} {r['requests_per_second']:>8.1f} {texts:>8.1f} "
                              f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['errors']:>6}",
                              flush=True)
            finally:
                server.stop()
    print_ratios(results, args.model, args.compare)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/load.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
