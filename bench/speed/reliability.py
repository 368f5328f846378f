"""Faults under load, with the figures the README reports under "Reliability".

1. 60 s at concurrency 16 while a gunicorn worker is SIGKILLed twice: requests, failures, failures
   after recovery.
2. Resident memory of the workers over 20,000 requests.
3. A model swap (symlink switch + SIGHUP) under load: failed requests, served version afterwards.
4. A corrupted bundle: /ready and /predict answers.
5. Batch scoring SIGKILLed part-way, then resumed: output identical to an uninterrupted run?
6. Training SIGKILLed after its first epoch: is the previous bundle intact?

    python -m bench.speed.reliability [--model models/default]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

from sentiment.inference import bundle
from tests.helpers import ROOT, Gunicorn, Load


def worker_processes(server):
    return psutil.Process(server.process.pid).children()


def wait_ready(server, workers=2, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(worker_processes(server)) == workers and requests.get(server.url + "/ready").status_code == 200:
                return time.time()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not recover")


def kills_under_load(model, tmp, seconds=60):
    server = Gunicorn(model, workers=2, threads=4, log_path=tmp / "kill.log").wait("/ready", timeout=120)
    load, started, kills, recovered = Load(server.url, threads=16), time.time(), [], None
    try:
        for at in (15, 35):
            time.sleep(max(0, started + at - time.time()))
            kills.append(time.time())
            worker_processes(server)[0].send_signal(signal.SIGKILL)
            recovered = wait_ready(server)
        time.sleep(max(0, started + seconds - time.time()))
    finally:
        results = load.stop()
        server.stop()
    failed = Load.failures(results)
    return {"requests": len(results), "worker_kills": len(kills), "failed": len(failed),
            "failed_within_1s_of_a_kill": sum(any(k - 1 <= f[0] <= k + 1 for k in kills) for f in failed),
            "failed_after_recovery": len(Load.failures(results, after=recovered)),
            "seconds_to_recover": round(recovered - kills[-1], 2)}


def memory_growth(model, tmp, n=20_000):
    server = Gunicorn(model, workers=2, threads=4, log_path=tmp / "memory.log").wait("/ready", timeout=120)

    def rss():
        return sum(p.memory_info().rss for p in worker_processes(server))

    def one(i):
        return requests.post(server.url + "/predict", json={"text": f"a gripping , lovely film number {i}"}).status_code

    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(1000)))  # warm-up
            before = rss()
            statuses = list(pool.map(one, range(n)))
            after = rss()
    finally:
        server.stop()
    return {"requests": n, "errors": sum(s != 200 for s in statuses), "rss_before_mib": round(before / 2**20, 1),
            "rss_after_mib": round(after / 2**20, 1), "growth_percent": round(100 * (after - before) / before, 2)}


def swap_under_load(model, tmp):
    first = tmp / "first"
    shutil.copytree(Path(model).resolve(), first)
    subprocess.run([sys.executable, "-m", "sentiment", "train", "--out", str(tmp / "second"), "--epochs", "1",
                    "--no-progress"], cwd=ROOT, check=True, capture_output=True)
    second = bundle.verify(tmp / "second")["version"]
    current = tmp / "current"
    bundle.point(current, first)
    server = Gunicorn(current, workers=2, threads=4, log_path=tmp / "swap.log").wait("/ready", timeout=120)
    load = Load(server.url, threads=16)
    try:
        time.sleep(5)
        bundle.point(current, (tmp / "second").resolve())
        os.kill(server.process.pid, signal.SIGHUP)
        while requests.get(server.url + "/model").json()["version"] != second:
            time.sleep(0.1)
        time.sleep(5)
        served = requests.get(server.url + "/model").json()["version"]
    finally:
        results = load.stop()
        server.stop()
    return {"requests": len(results), "failed": len(Load.failures(results)), "new_version_served": served == second}


def corrupted_bundle(model, tmp):
    broken = tmp / "broken"
    shutil.copytree(Path(model).resolve(), broken)
    raw = bytearray((broken / "weights.params").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (broken / "weights.params").write_bytes(bytes(raw))
    server = Gunicorn(broken, workers=1, log_path=tmp / "broken.log").wait("/health", timeout=120)
    try:
        ready = requests.get(server.url + "/ready")
        predict = requests.post(server.url + "/predict", json={"text": "fine"})
    finally:
        server.stop()
    return {"ready_status": ready.status_code, "predict_status": predict.status_code,
            "reason": ready.json()["reason"]}


def scoring_kill_resume(model, tmp, n=100_000):
    from sentiment.corpora.datasets import split_files
    from sentiment.corpora.labelled import load_many

    sentences = load_many(split_files("test")).texts
    source = tmp / "in.txt"
    source.write_text("".join(sentences[i % len(sentences)] + "\n" for i in range(n)), encoding="utf-8")
    command = [sys.executable, "-m", "sentiment", "score", str(source), "--model", str(model), "--no-progress"]
    subprocess.run(command + ["--out", str(tmp / "whole.jsonl")], check=True, capture_output=True, cwd=ROOT)
    process = subprocess.Popen(command + ["--out", str(tmp / "killed.jsonl")], cwd=ROOT, stderr=subprocess.DEVNULL)
    checkpoint = tmp / "killed.jsonl.checkpoint"
    while not checkpoint.exists() or json.loads(checkpoint.read_text() or '{"records": 0}')["records"] < n // 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(checkpoint.read_text())["records"]
    final_existed = (tmp / "killed.jsonl").exists()
    subprocess.run(command + ["--out", str(tmp / "killed.jsonl"), "--resume"], check=True, capture_output=True, cwd=ROOT)
    identical = (tmp / "killed.jsonl").read_bytes() == (tmp / "whole.jsonl").read_bytes()
    return {"records": n, "killed_after": done, "truncated_final_file": final_existed, "identical_after_resume": identical}


def training_kill(model, tmp):
    out = tmp / "trained"
    shutil.copytree(Path(model).resolve(), tmp / "previous")
    bundle.point(out, tmp / "previous")
    before = bundle.verify(out)["version"]
    process = subprocess.Popen([sys.executable, "-m", "sentiment", "train", "--out", str(out), "--no-progress"],
                               cwd=ROOT, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("epoch 1:"):
            break
    time.sleep(5)  # mid-way through epoch 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    return {"previous_bundle_intact": bundle.verify(out)["version"] == before}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/default")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, check in (("worker_kills_under_load", kills_under_load), ("memory_over_20000_requests", memory_growth),
                            ("model_swap_under_load", swap_under_load), ("corrupted_bundle", corrupted_bundle),
                            ("scoring_kill_and_resume", scoring_kill_resume), ("training_kill", training_kill)):
            results[name] = check(args.model, tmp)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/reliability.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
