"""Faults with nothing lost: a worker SIGKILLed under load, a model swapped with SIGHUP under load,
and training SIGKILLed part-way. Longer versions with figures: bench/speed/reliability.py."""
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import requests

from sentiment.inference import bundle
from sentiment.inference.predictor import Predictor
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from tests.conftest import SMALL
from tests.helpers import ROOT, Gunicorn, Load


def workers(server):
    return psutil.Process(server.process.pid).children()


def wait_for_workers(server, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(workers(server)) == count and requests.get(server.url + "/ready", timeout=5).status_code == 200:
                return
        except requests.Timeout:  # a slow answer while a new worker loads on a busy machine: ask again
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not get back to {count} ready workers")


def test_killed_worker_is_replaced_and_only_in_flight_requests_fail(small_bundle, tmp_path):
    server = Gunicorn(small_bundle, workers=2, threads=4, log_path=tmp_path / "log").wait("/ready")
    load = Load(server.url, threads=16)
    try:
        kills = []
        for _ in range(2):
            time.sleep(2)
            victim = workers(server)[0]
            kills.append(time.time())
            victim.send_signal(signal.SIGKILL)
            wait_for_workers(server, 2)
        recovered = time.time()
        time.sleep(3)
    finally:
        results = load.stop()
        server.stop()
    failed = Load.failures(results)
    assert len(results) > 200
    assert len(failed) <= 2 * 16, failed  # at most what was in flight at each of the two kills
    assert all(any(kill - 1 <= f[0] <= kill + 1 for kill in kills) for f in failed), failed
    assert not Load.failures(results, after=recovered)


def test_model_swap_with_sighup_under_load_loses_nothing(small_bundle, labelled_files, tmp_path):
    first = tmp_path / "first"
    shutil.copytree(small_bundle.resolve(), first)
    second_version, _ = fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]),
                                        out=str(tmp_path / "second"), seed=99, **SMALL), log=lambda m: None)
    current = tmp_path / "current"
    bundle.point(current, first)
    server = Gunicorn(current, workers=2, threads=4, log_path=tmp_path / "log").wait("/ready")
    first_version = requests.get(server.url + "/model").json()["version"]
    assert first_version != second_version
    load = Load(server.url, threads=8)
    try:
        time.sleep(2)
        bundle.point(current, (tmp_path / "second").resolve())  # atomic pointer switch
        os.kill(server.process.pid, signal.SIGHUP)  # graceful reload: new workers, old ones finish
        deadline = time.time() + 60
        while requests.get(server.url + "/model").json()["version"] != second_version:
            assert time.time() < deadline, "the new model was not served within 60 s"
            time.sleep(0.2)
        time.sleep(2)
        versions = {requests.get(server.url + "/model").json()["version"] for _ in range(20)}
    finally:
        results = load.stop()
        server.stop()
    assert versions == {second_version}
    assert len(results) > 100 and Load.failures(results) == []


def test_training_killed_part_way_leaves_the_previous_bundle(small_bundle, labelled_files, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(small_bundle.resolve(), tmp_path / "v1")
    bundle.point(out, tmp_path / "v1")
    before = bundle.verify(out)["version"]
    process = subprocess.Popen([sys.executable, "-m", "sentiment", "train", "--data", str(labelled_files[0]), "--dev",
                                str(labelled_files[1]), "--out", str(out), "--epochs", "500", "--patience", "500",
                                "--encoder", "glove", "--embeddings", "random", "--embed-size", "16", "--hidden-size", "16",
                                "--no-progress"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # wait until training is under way: an epoch has finished
        if line.startswith("epoch 2/"):
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert bundle.verify(out)["version"] == before
    assert Predictor.load(out).predict(["a lovely film"])
