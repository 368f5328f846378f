"""Offline batch scoring through the real CLI: formats, nothing lost, kill + resume, and Dask."""
import csv
import gzip
import json
import math
import signal
import subprocess
import sys
import time

import pytest

from sentiment.inference.predictor import Predictor
from tests.helpers import ROOT, make_reviews, run_cli


def read_jsonl(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def summary(stderr):
    return json.loads([line for line in stderr.splitlines() if line.startswith("{")][-1])


def test_every_record_yields_one_output_in_order(small_bundle, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"the plot is lovely .\n\n\xff broken\nthe ending is dull .\n")
    with gzip.open(tmp_path / "b.csv.gz", "wt") as f:
        f.write('key,review\nk1,"a superb , gripping film"\nk2,"unclosed "quote\nk3,a bland script\n')
    (tmp_path / "c.jsonl").write_text('{"body": "a fresh story"}\n{"body": 3}\nnot json\n{"other": 1}\n')
    out = tmp_path / "out.jsonl"
    result = run_cli("score", tmp_path / "a.txt", "--model", small_bundle, "--out", out, "--no-progress")
    records = read_jsonl(out)
    assert [(r["line"], "error" in r) for r in records] == [(1, False), (2, True), (3, True), (4, False)]
    assert records[1]["error"] == "empty text" and records[2]["error"].startswith("invalid UTF-8")
    assert records[0]["id"] == f"{tmp_path / 'a.txt'}:1" and set(records[0]["probabilities"]) == {"negative",
                                                                                                  "positive"}
    assert "attention" not in records[0] and -1 <= records[0]["score"] <= 1
    assert summary(result.stderr)["scored"] == 2 and summary(result.stderr)["errors"] == 2

    out2 = tmp_path / "out2.jsonl"
    run_cli("score", tmp_path / "b.csv.gz", "--text-column", "review", "--id-column", "key", "--model", small_bundle,
            "--out", out2, "--top-pairs", 3, "--no-progress")
    records = read_jsonl(out2)
    assert [r["id"] for r in records] == ["k1", f"{tmp_path / 'b.csv.gz'}:3", "k3"]
    assert "broken CSV quoting" in records[1]["error"]
    pairs = records[0]["top_pairs"]
    assert len(pairs) == 3 and abs(pairs[0]["contribution"]) >= abs(pairs[1]["contribution"]) >= abs(
        pairs[2]["contribution"])
    assert set(pairs[0]) == {"first", "second", "i", "j", "attention", "contribution"}

    out3 = tmp_path / "out3.csv"
    failed = run_cli("score", tmp_path / "c.jsonl", "--text-field", "body", "--model", small_bundle, "--out", out3,
                     "--attention", "--fail-on-error", "--no-progress", check=False)
    assert failed.returncode == 1
    rows = list(csv.DictReader(open(out3, encoding="utf-8")))
    assert [row["line"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0]["label"] and float(rows[0]["p_negative"]) + float(rows[0]["p_positive"]) == pytest.approx(1)
    assert float(rows[0]["score"]) == pytest.approx(float(rows[0]["p_positive"]) - float(rows[0]["p_negative"]),
                                                    abs=1e-5)
    assert rows[1]["score"] == ""  # an error record has no score
    assert len(json.loads(rows[0]["attention"])) == 3 and rows[1]["error"] == "'body' must be a string, got int"
    assert rows[2]["error"].startswith("invalid JSON") and rows[3]["error"] == "missing 'body'"


def test_stdin_and_nothing_scorable(small_bundle, tmp_path):
    out = tmp_path / "o.jsonl"
    result = run_cli("score", "-", "--model", small_bundle, "--out", out, "--no-progress",
                     input="a lovely cast\na dull plot\n")
    assert [r["id"] for r in read_jsonl(out)] == ["-:1", "-:2"] and result.returncode == 0
    empty = run_cli("score", "-", "--model", small_bundle, "--out", tmp_path / "e.jsonl", "--no-progress",
                    input="\n   \n", check=False)
    assert empty.returncode == 1 and "no record could be scored" in empty.stderr


def big_input(path, n):
    path.write_text("".join(f"{row['text']} {i}\n" for i, row in enumerate(make_reviews(n, seed=9))))
    return path


def test_killed_run_leaves_no_final_file_and_resume_matches(small_bundle, tmp_path):
    source = big_input(tmp_path / "big.txt", 20000)
    reference = tmp_path / "reference.jsonl"
    run_cli("score", source, "--model", small_bundle, "--out", reference, "--window", 500, "--no-progress")

    out = tmp_path / "killed.jsonl"
    checkpoint = tmp_path / "killed.jsonl.checkpoint"
    process = subprocess.Popen([sys.executable, "-m", "sentiment", "score", str(source), "--model", str(small_bundle),
                                "--out", str(out), "--window", "500", "--no-progress"], cwd=ROOT,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if checkpoint.exists() and json.loads(checkpoint.read_text() or '{"records": 0}')["records"] >= 2000:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(checkpoint.read_text())["records"]
    assert 0 < done < 20000, "the run should be killed part-way"
    assert not out.exists() and (tmp_path / "killed.jsonl.partial").exists()

    result = run_cli("score", source, "--model", small_bundle, "--out", out, "--window", 500, "--resume",
                     "--no-progress")
    assert summary(result.stderr)["resumed_after"] == done
    assert out.read_bytes() == reference.read_bytes()
    assert not checkpoint.exists()


def test_dask_local_cluster_output_is_identical(small_bundle, tmp_path):
    source = big_input(tmp_path / "in.txt", 3000)
    single, distributed = tmp_path / "single.jsonl", tmp_path / "dask.jsonl"
    run_cli("score", source, "--model", small_bundle, "--out", single, "--window", 256, "--top-pairs", 2,
            "--sentences", "--no-progress")
    result = run_cli("score", source, "--model", small_bundle, "--out", distributed, "--window", 256,
                     "--top-pairs", 2, "--sentences", "--dask", "local:2", "--no-progress")
    assert summary(result.stderr)["scored"] == 3000
    ones, many = read_jsonl(single), read_jsonl(distributed)
    assert len(ones) == len(many) == 3000
    for one, other in zip(ones, many):
        pairs_one = [s.pop("top_pairs") for s in one["sentences"]]
        pairs_other = [s.pop("top_pairs") for s in other["sentences"]]
        one.pop("top_pairs", None), other.pop("top_pairs", None)  # a one-sentence text repeats its sentence's
        assert one == other  # ids, labels, probabilities, sentences: byte for byte
        # Contributions come from a GEMM whose summation order follows the thread count (2 here, 1 per
        # Dask worker): equal to float32 precision, not always in the 6th decimal.
        for pairs, others in zip(pairs_one, pairs_other):
            assert [p["contribution"] for p in pairs] == pytest.approx([p["contribution"] for p in others], abs=1e-4)
            assert [p["attention"] for p in pairs] == [p["attention"] for p in others]


def test_a_second_run_on_the_same_output_exits_at_once_naming_the_first(small_bundle, tmp_path):
    out = tmp_path / "shared.jsonl"
    first = subprocess.Popen([sys.executable, "-m", "sentiment", "score", "-", "--model", str(small_bundle), "--out",
                              str(out), "--no-progress", "--window", "1"], cwd=ROOT, stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    first.stdin.write("a lovely cast\n")
    first.stdin.flush()  # the first run now waits on its open stdin, holding the lock
    lock = tmp_path / "shared.jsonl.lock"
    deadline = time.time() + 60
    while time.time() < deadline and not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        time.sleep(0.05)
    second = run_cli("score", "-", "--model", small_bundle, "--out", out, "--resume", "--no-progress",
                     input="a dull plot\n", check=False, timeout=60)
    assert second.returncode == 2
    assert f"is being written by another run (pid {first.pid})" in second.stderr
    first.stdin.write("a dull plot\n")
    first.stdin.close()
    assert first.wait(timeout=60) == 0
    assert [r["line"] for r in read_jsonl(out)] == [1, 2] and not lock.exists()
    again = run_cli("score", "-", "--model", small_bundle, "--out", out, "--no-progress", input="fine\n")
    assert again.returncode == 0


def test_empty_text_keeps_its_id_and_unknown_words_are_reported(small_bundle, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("id,review\nr1,the plot is lovely .\nr2,\nr3,ce film est magnifique\n")
    out = tmp_path / "rows.jsonl"
    result = run_cli("score", source, "--text-column", "review", "--id-column", "id", "--model", small_bundle,
                     "--out", out)
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["r1", "r2", "r3"] and records[1]["error"] == "empty text"
    assert records[0]["unknown_tokens"] == [] and records[2]["unknown_tokens"] == ["ce", "est", "magnifique"]
    assert "3/3" in result.stderr and "3/4" not in result.stderr  # the progress total leaves the header out


def test_contributions_are_written_and_add_up(small_bundle, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("the plot is lovely .\na bland , stale script\n")
    out = tmp_path / "c.jsonl"
    run_cli("score", source, "--model", small_bundle, "--out", out, "--contributions", "--no-progress")
    exact = Predictor.load(small_bundle).explain(source.read_text().splitlines(), contributions=True)
    for record, reference in zip(read_jsonl(out), exact, strict=True):
        p = reference["probabilities"]  # unrounded: the small model is sure enough to round one to 0
        total = sum(map(sum, record["contributions"])) + record["contribution_bias"]
        assert total == pytest.approx(math.log(p[record["label"]] / p[record["runner_up"]]), abs=1e-4)
    csv_out = tmp_path / "c.csv"
    run_cli("score", source, "--model", small_bundle, "--out", csv_out, "--contributions", "--top-pairs", 2,
            "--no-progress")
    row = next(csv.DictReader(open(csv_out, encoding="utf-8")))
    assert len(json.loads(row["contributions"])) == 5 and len(json.loads(row["top_pairs"])) == 2
    assert row["runner_up"] in ("negative", "positive") and row["label"] != row["runner_up"]
