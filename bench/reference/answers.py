"""Golden answers: what `/predict`, `sentiment predict` and `sentiment score` (JSONL and CSV) answer for a fixed
set of texts, byte for byte, so that two checkouts can be compared on one bundle.

It drives the commands and a real gunicorn as a user would (subprocesses and HTTP, no imports), so it
runs against any checkout of the project with `--root`:

    python -m bench.reference.answers --model models/default --out /tmp/answers-new
    python -m bench.reference.answers --model models/default --root ../old-checkout --out /tmp/answers-old
    python -m bench.reference.answers --compare /tmp/answers-old /tmp/answers-new

The texts are written for this check: one sentence and several, negation, contrast, emoji and unknown
words, a sentence past the model's length, an empty line (an error record) and a CSV-hostile one.
"""
import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

TEXTS = [
    "Not bad at all, I liked it.",
    "The first half drags. But the last hour is gorgeous, and I would happily watch it again.",
    "A dull, lifeless film.",
    "The package arrived on Tuesday.",
    "The screen is lovely. The battery died in a week.",
    "I wouldn't call it great, but it isn't terrible either.",
    "Although the cast tries hard, the script is a mess.",
    "Overall, a solid phone for the price :) would buy again!!!",
    "zxqv blorft wibble 🤖🤖 — ça marche très bien",
    "@someone check https://example.com/x it is sooooo goooood",
    "The pasta was cold and bland; the waiter was rude. The dessert, however, made our evening. "
    "In the end I would not go back.",
    " ".join(["the plot moves slowly and then"] * 20) + " it ends well.",
    'He said "fine", then left, and I, too, left.',
    "",
    "   ",
    "Worst purchase ever. Broke on day one. Support never answered. Avoid.",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(root, *args, stdin=None):
    """`python -m sentiment ARGS` in the checkout at root; its stdout as bytes."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "sentiment", *map(str, args)], cwd=root, env=env, input=stdin,
                          capture_output=True, check=True).stdout


def requests_to_serve():
    """(name, content type, body) of each /predict request."""
    asked = [(f"text-{i}-contributions", {"text": t, "contributions": True, "top_pairs": 3})
             for i, t in enumerate(TEXTS)]
    asked += [("texts-no-attention", {"texts": [t for t in TEXTS if t.strip()], "attention": False}),
              ("texts-contributions-no-attention", {"texts": TEXTS[:5], "contributions": True, "attention": False}),
              ("text-top-pairs-0", {"text": TEXTS[1], "contributions": True, "top_pairs": 0}),
              ("text-default", {"text": TEXTS[10]}), ("texts-empty", {"texts": ["fine", " "]})]
    bodies = [(name, "application/json", json.dumps(body).encode()) for name, body in asked]
    return bodies + [("plain", "text/plain", TEXTS[1].encode())]


def serve(root, model, out):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "SENTIMENT_MODEL": str(model), "SENTIMENT_BIND": f"127.0.0.1:{port}"}
    env.pop("OMP_NUM_THREADS", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.wsgi:app"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        for name, content_type, body in requests_to_serve():
            answer = requests.post(url + "/predict", data=body, headers={"Content-Type": content_type}, timeout=60)
            (out / f"predict-{name}.json").write_bytes(f"{answer.status_code}\n".encode() + answer.content)
    finally:
        server.terminate()
        server.wait(30)


def write(root, model, out):
    out.mkdir(parents=True, exist_ok=True)
    spoken = [t for t in TEXTS if t.strip()]
    (out / "cli-predict-contributions.json").write_bytes(
        cli(root, "predict", *spoken[:6], "--model", model, "--contributions", "--top-pairs", 3))
    (out / "cli-predict-no-attention.json").write_bytes(cli(root, "predict", spoken[1], "--model", model,
                                                            "--no-attention"))
    source = Path(tempfile.gettempdir()) / "sentiment-golden-answers" / "texts.txt"  # records name it: one path
    source.parent.mkdir(exist_ok=True)
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    for name, options in {"score-plain.jsonl": [], "score-everything.jsonl": ["--sentences", "--top-pairs", 3,
                                                                               "--contributions", "--attention"],
                          "score-top-pairs.csv": ["--top-pairs", 2], "score-sentences.csv": ["--sentences"]}.items():
        cli(root, "score", source, "--model", model, "--out", out / name, "--no-progress", *options)
    serve(root, model, out)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.name != "sums.json"}
    (out / "sums.json").write_text(json.dumps(sums, indent=2) + "\n")
    print(f"{len(sums)} files in {out}")


def compare(old, new):
    a, b = (json.loads((Path(d) / "sums.json").read_text()) for d in (old, new))
    differ = sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
    print(f"{len(set(a) & set(b)) - len(differ)} of {len(set(a) | set(b))} files byte-identical")
    for name in differ:
        print(f"  differs: {name}")
    return 1 if differ else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--root", default=".", help="the checkout whose commands answer (default: this one)")
    parser.add_argument("--out", help="folder for the answers and their sums")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two folders of answers")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    write(Path(args.root).resolve(), Path(args.model).resolve(), Path(args.out).resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
