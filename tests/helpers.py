"""Self-written test data and a real gunicorn launcher, shared by the tests."""
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent

GOOD = ["wonderful", "brilliant", "moving", "delightful", "charming", "superb", "gripping", "lovely", "fresh", "smart"]
BAD = ["dull", "awful", "boring", "clumsy", "tedious", "messy", "bland", "painful", "stale", "lifeless"]
NOUNS = ["film", "story", "cast", "script", "ending", "score", "plot", "direction", "acting", "pacing"]
TEMPLATES = ["the {noun} is {adj} .", "a {adj} {noun} , really {adj} .", "what a {adj} {noun} !",
             "i found the {noun} {adj} and the {noun2} {adj2} .", "{adj} from start to finish ."]


def make_reviews(n, seed, labels=("negative", "positive")):
    """n synthetic one-sentence reviews whose adjectives carry the label (words written for these tests)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = GOOD if positive else BAD
        text = rng.choice(TEMPLATES).format(noun=rng.choice(NOUNS), noun2=rng.choice(NOUNS), adj=rng.choice(words),
                                            adj2=rng.choice(words))
        rows.append({"text": text, "label": labels[int(positive)]})
    return rows


def make_documents(n, seed):
    """n synthetic reviews of two to four sentences; the last sentence is the verdict and gives the label and rating."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        sentences = make_reviews(rng.randint(2, 4), seed=seed * 1000 + k)
        label = sentences[-1]["label"]
        rows.append({"text": " ".join(s["text"] for s in sentences), "label": label,
                     "rating": 0.8 if label == "positive" else -0.8})
    return rows


# A tiny WordPiece vocabulary: the words above, a few split into pieces ("wonder" "##ful"), so mean pooling is tested.
PIECES = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?:;'()-") + ["i", "a", "the", "is", "and",
          "what", "really", "found", "from", "start", "to", "finish", "not", "n", "t", "it", "was", "s", "don", "wonder",
          "##ful", "bri", "##lliant", "##s"] + [w for w in GOOD + BAD + NOUNS if w not in ("wonderful", "brilliant")])
TINY_BERT = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
             "max_position_embeddings": 160, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}


def make_tiny_encoder(folder, seed=0):
    """A random-weight BERT saved as the real encoder is (model.safetensors, vocab.txt, config.json): fast tests."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(PIECES) + "\n", encoding="utf-8")
    config = dict(TINY_BERT, vocab_size=len(PIECES), model_type="bert")
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    rng = np.random.RandomState(seed)
    units, inner = config["hidden_size"], config["intermediate_size"]

    def weights(*shape):
        return (rng.randn(*shape) * 0.2).astype(np.float32)

    tensors = {"embeddings.word_embeddings.weight": weights(len(PIECES), units),
               "embeddings.position_embeddings.weight": weights(config["max_position_embeddings"], units),
               "embeddings.token_type_embeddings.weight": weights(2, units),
               "embeddings.LayerNorm.weight": 1 + weights(units), "embeddings.LayerNorm.bias": weights(units),
               "pooler.dense.weight": weights(units, units), "pooler.dense.bias": weights(units)}
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}."
        for name, (rows, cols) in {"attention.self.query": (units, units), "attention.self.key": (units, units),
                                   "attention.self.value": (units, units), "attention.output.dense": (units, units),
                                   "intermediate.dense": (inner, units), "output.dense": (units, inner)}.items():
            tensors[layer + name + ".weight"], tensors[layer + name + ".bias"] = weights(rows, cols), weights(rows)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[layer + name + ".weight"], tensors[layer + name + ".bias"] = 1 + weights(units), weights(units)
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


def probe(code, **env):
    """Run `code` in a fresh interpreter with `env` set (None: unset); its last line of output, as JSON."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment = {k: v for k, v in environment.items() if v is not None}
    out = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, check=True, timeout=600, **kwargs):
    """`python -m sentiment ARGS` in the repository root; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, "-m", "sentiment", *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"sentiment {args} exited {result.returncode}:\n{result.stderr}")
    return result


class Gunicorn:
    """A real gunicorn serving service.wsgi:app on a free 127.0.0.1 port."""

    def __init__(self, model, workers=2, threads=4, extra_env=None, log_path=None, app="service.wsgi:app"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SENTIMENT_MODEL=str(model), SENTIMENT_BIND=f"127.0.0.1:{self.port}",
                   SENTIMENT_WORKERS=str(workers), SENTIMENT_THREADS=str(threads), PYTHONPATH=str(ROOT))
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.pop("OMP_NUM_THREADS", None)  # importing sentiment set it here; gunicorn.conf.py splits the cores
        env.update(extra_env or {})
        self.log_path = log_path
        self.log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py",
                                         app], cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait(self, path="/health", status=200, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}: {self.read_log()}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == status:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer {status} on {path} in {timeout}s: {self.read_log()}")

    def read_log(self):
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_path:
            self.log.close()


class Load:
    """Bounded background load: `threads` clients POST /predict on new connections until stopped.

    Records (start time, end time, status or exception name) for every request.
    """

    def __init__(self, url, threads=8, text="a lovely , gripping film", max_seconds=300):
        import threading

        self.url, self.text, self.deadline = url, text, time.time() + max_seconds
        self.results, self._stop = [], threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self):
        while not self._stop.is_set() and time.time() < self.deadline:
            started = time.time()
            try:
                outcome = requests.post(self.url + "/predict", json={"text": self.text}, timeout=30).status_code
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            self.results.append((started, time.time(), outcome))

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.results

    @staticmethod
    def failures(results, after=0.0):
        return [r for r in results if r[0] >= after and r[2] != 200]


def make_absa(n, seed):
    """n synthetic sentences with targets (nouns) whose polarity their own adjective carries; some name two targets
    of opposite polarity, some one neutral target. Records as sentiment.corpora.absa writes them."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        first, second = rng.sample(NOUNS, 2)
        kind = rng.choice(("one", "two", "neutral"))
        good, bad = rng.choice(GOOD), rng.choice(BAD)
        if kind == "neutral":
            text, targets = f"i found the {first} from start to finish .", [(first, "neutral")]
        elif kind == "one":
            positive = rng.random() < 0.5
            text, targets = f"the {first} is {good if positive else bad} .", [(first, "positive" if positive
                                                                            else "negative")]
        else:
            text, targets = f"the {first} is {good} and the {second} is {bad} .", [(first, "positive"),
                                                                                  (second, "negative")]
        spans = []
        for target, label in targets:
            start = text.index(f" {target} ") + 1
            spans.append({"target": target, "start": start, "end": start + len(target),
                          "spans": [[start, start + len(target)]], "label": label})
        rows.append({"id": f"s{seed}-{k}", "text": text, "targets": spans})
    return rows


def write_absa(folder, sets=("restaurants", "laptops"), sizes=(("train", 160), ("dev", 40))):
    """Synthetic aspect sets under folder/absa/<set>/<split>.jsonl; returns folder (a data_dir)."""
    for k, name in enumerate(sets):
        for split, n in sizes:
            (Path(folder) / "absa" / name).mkdir(parents=True, exist_ok=True)
            write_jsonl(Path(folder) / "absa" / name / f"{split}.jsonl", make_absa(n, seed=10 * k + len(split)))
    return folder
