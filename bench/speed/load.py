"""The server under load: wrk against gunicorn on 127.0.0.1, every answer with the attention matrix.

For each server layout, 20 s at concurrency 1, 8 and 32, with single test sentences, batches of 32
of them, and whole reviews of 10 sentences (Amazon and NYT test documents). Prints requests/s,
p50/p95/p99 latency and errors (non-2xx + socket errors). The layout "bare" is the ceiling: a
bare Flask app under the same gunicorn settings returning, for each body, the answer the model
server gives (bench/speed/bare_app.py); each model layout's requests/s is then printed as a ratio of
it. With --compare, the same runs for other bundles, then each one's requests/s as a ratio of the
first model's.

    python -m bench.speed.load [--model models/default] [--compare BUNDLE ...] [--seconds 20] [--layouts microbatch,bare,...]
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from bench.provenance import stamp
from sentiment.corpora.datasets import document_files, prepare, split_files
from sentiment.corpora.labelled import load_many
from sentiment.jsonio import dumps
from tests.helpers import Gunicorn

LAYOUTS = {  # name: (description, gunicorn/service environment)
    "microbatch": ("2 workers x 4 threads, micro-batching", {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4"}),
    "plain": ("2 workers x 4 threads, no micro-batching",
              {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4", "SENTIMENT_MICROBATCH": "0"}),
    "one-worker": ("1 worker x 8 threads, micro-batching", {"SENTIMENT_WORKERS": "1", "SENTIMENT_THREADS": "8"}),
    "one-worker-32": ("1 worker x 32 threads, micro-batching", {"SENTIMENT_WORKERS": "1", "SENTIMENT_THREADS": "32"}),
    "one-worker-32-no-wait": ("1 worker x 32 threads, micro-batching, never waiting for the requests in flight",
                              {"SENTIMENT_WORKERS": "1", "SENTIMENT_THREADS": "32", "SENTIMENT_MICROBATCH_WAIT_MS": "0"}),
    "two-workers-16": ("2 workers x 16 threads, micro-batching", {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "16"}),
    "wait2ms": ("2 workers x 4 threads, micro-batching waiting up to 2 ms under load",
                {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4", "SENTIMENT_MICROBATCH_WAIT_MS": "2"}),
    "bare": ("bare Flask, fixed answers of the model's shape and size (2 workers x 4 threads)",
             {"SENTIMENT_WORKERS": "2", "SENTIMENT_THREADS": "4"}),
}
BARE = "bare"

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


def reviews(count=10):
    """Whole test reviews and editorials cut to their first `count` sentences (those that have as many)."""
    texts = []
    for path in document_files("test"):
        with open(path, encoding="utf-8") as f:
            for line in f:
                sentences = json.loads(line)["sentences"]
                if len(sentences) >= count:
                    texts.append(" ".join(s["text"] for s in sentences[:count]))
    return texts


def prepared_answers(model, bodies, path):
    """The model's answer to every text of the bodies, as the service gives it, written for the bare app."""
    from sentiment.inference.predictor import Predictor

    predictor = Predictor.load(model)
    texts = sorted({t for body in bodies for t in (body["texts"] if "texts" in body else [body["text"]])})
    answers = {text: dict(answer, model=predictor.version) for text, answer in zip(texts, predictor.explain(texts))}
    path.write_bytes(dumps(answers))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--compare", nargs="*", default=[], help="other bundles run the same way, after --model")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated: " + ", ".join(LAYOUTS))
    args = parser.parse_args()
    prepare()
    sentences = load_many(split_files("test")).texts
    bodies = {"single": [{"text": s} for s in sentences],
              "batch32": [{"texts": sentences[i:i + 32]} for i in range(0, len(sentences) - 32, 32)],
              "review10": [{"text": t} for t in reviews()]}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {name: lua_script(Path(tmp) / f"{name}.lua", body) for name, body in bodies.items()}
        answers = None
        for model, layout in [(m, layout) for m in [args.model, *args.compare] for layout in args.layouts.split(",")]:
            description, env = LAYOUTS[layout]
            if layout == BARE and model != args.model:  # one ceiling is enough
                continue
            if layout == BARE:
                answers = answers or prepared_answers(args.model, [b for body in bodies.values() for b in body],
                                                      Path(tmp) / "answers.json")
                server = Gunicorn(model, extra_env={**env, "BARE_ANSWERS": str(answers)}, app="bench.speed.bare_app:app",
                                  log_path=Path(tmp) / "gunicorn.log")
            else:
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
                        results.append({"model": model, "layout": layout, "description": description, "body": body,
                                        "concurrency": connections, **r})
                        print(f"  {body:8s} {connections:>4} {r['requests_per_second']:>8.1f} {texts:>8.1f} "
                              f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['errors']:>6}",
                              flush=True)
            finally:
                server.stop()
    print_ceiling(results, args.model)
    print_ratios(results, args.model, args.compare)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/load.json").write_text(json.dumps({**stamp(), "runs": results}, indent=2) + "\n")


def print_ceiling(results, model):
    """Each model layout's requests/s as a ratio of the bare app's, same body and concurrency."""
    bare = {(r["body"], r["concurrency"]): r["requests_per_second"] for r in results if r["layout"] == BARE}
    if not bare:
        return
    print("\nrequests/s as a ratio of the bare Flask app's (same body and concurrency):", flush=True)
    for r in results:
        if r["layout"] != BARE and r["model"] == model:
            ratio = r["requests_per_second"] / bare[(r["body"], r["concurrency"])]
            print(f"  {r['layout']:10s} {r['body']:8s} at {r['concurrency']:>2}: {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
