"""Targets with a polarity each, read from files the user names, verified and split.

Three public sets, none on a package registry (README, "Aspects"): SemEval-2014 Task 4 restaurants and laptops
(Pontiki et al., 2014) and Dong et al.'s tweets (ACL 2014), in the three-line form most papers use: the sentence
with the target replaced by `$T$`, the target, and its polarity (-1, 0, 1).

Each example names one target; a sentence's full set of targets is rebuilt by grouping its examples on the sentence
with `$T$` filled in. Dev is carved from train by a seeded 10% of the sentences, so that no sentence sits on both
sides; the test files stay as published. Each split is data/absa/<set>/<split>.jsonl, one sentence per line:
{"id", "text", "targets": [{"target", "start", "end", "spans", "label"}, ...] in text order}, where spans lists
every place the example marks (a tweet may name its target twice) and start, end is the first.
"""
import json
import random
from pathlib import Path

from .datasets import DATA_DIR, write_jsonl
from .labelled import DataError, check_sha256

FILES = {  # set: {split: (file, SHA-256)}
    "restaurants": {
        "train": ("Restaurants_Train.xml.seg", "179e03965ad30f9c6348b5eb3ea0f285fd6952c7914489c5539ed65ffef5c66a"),
        "test": ("Restaurants_Test_Gold.xml.seg", "9492e95146e4f650da5109a2a2da4ae9e3f2440b7fccadac2100b3c2bd9dee0a")},
    "laptops": {
        "train": ("Laptops_Train.xml.seg", "fcc7574e20bc5af850d643ecaacf8f675a7c6b7979923ac5a0d571f237398a67"),
        "test": ("Laptops_Test_Gold.xml.seg", "991c33cac376ac571564006b23e525132871fa70535992a22bda38574768ae0c")},
    "tweets": {
        "train": ("Twitter_train.raw", "d33db1cf553ec0b65c4b503e736f10cb1a810d451ae466f5244724a61c935a8e"),
        "test": ("Twitter_test.raw", "bd93efaf67adc9c06c1f220a4f1e1a1122b5716573e9d62088cab64b1aa465b5")},
}
ORIGIN = "https://github.com/songyouwei/ABSA-PyTorch (datasets/); SemEval-2014 Task 4; Dong et al., ACL 2014"
POLARITY = {"-1": "negative", "0": "neutral", "1": "positive"}
SPLITS = ("train", "dev", "test")
DEV_FRACTION, SEED = 0.1, 2014
FORMAT = "absa v2"
PLACEHOLDER = "$T$"


def absa_files(split, sets=tuple(FILES), data_dir=None):
    """Paths of one split of the prepared aspect sets that exist, in set order."""
    root = Path(data_dir or DATA_DIR) / "absa"
    return [str(root / s / f"{split}.jsonl") for s in sets if (root / s / f"{split}.jsonl").exists()]


def read_sentences(path):
    """The sentences of a prepared split: [{"id", "text", "targets": [...]}, ...]."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def examples(sentences):
    """One (text, target) example per target: [{"text", "target", "start", "end", "label", "id"}, ...]."""
    return [{"text": s["text"], "id": s["id"], **t} for s in sentences for t in s["targets"]]


def parse(path, name):
    """A three-line file -> sentences with their targets, in first-seen order. Raises DataError on a bad line."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 3:
        raise DataError(f"{path}: {len(lines)} lines, not a multiple of 3 (sentence, target, polarity)")
    sentences = {}
    for k in range(0, len(lines), 3):
        template, target, polarity = lines[k].strip(), lines[k + 1].strip(), lines[k + 2].strip()
        if PLACEHOLDER not in template or not target or polarity not in POLARITY:
            raise DataError(f"{path}, line {k + 1}: expected {PLACEHOLDER}, a target and -1/0/1")
        parts = template.split(PLACEHOLDER)  # a tweet may name its target more than once: each place is it
        text, spans = parts[0], []
        for part in parts[1:]:
            spans.append([len(text), len(text) + len(target)])
            text += target + part
        entry = sentences.setdefault(text, {"id": f"{name}-{len(sentences)}", "text": text, "targets": []})
        if all(t["spans"] != spans for t in entry["targets"]):  # a repeated sentence repeats its targets
            entry["targets"].append({"target": target, "start": spans[0][0], "end": spans[0][1], "spans": spans,
                                     "label": POLARITY[polarity]})
    for entry in sentences.values():
        entry["targets"].sort(key=lambda t: t["start"])
    return list(sentences.values())


def verify(folder):
    """{set: {"train": path, "test": path}} of the sets whose two files are in folder, each checked by SHA-256.

    Raises DataError naming a file whose sum is wrong; a set with a file missing is left out.
    """
    found = {}
    for name, files in FILES.items():
        paths = {split: Path(folder) / file for split, (file, _) in files.items()}
        if not all(p.exists() for p in paths.values()):
            continue
        for split, (_, expected) in files.items():
            check_sha256(paths[split], expected, f"a different or damaged copy; see {ORIGIN}")
        found[name] = paths
    return found


def prepare_absa(folder, data_dir=DATA_DIR, force=False, report=lambda message: None):
    """Verify, read and split the sets in folder; returns {"<set>/<split>.jsonl": sentences}."""
    folder, out = Path(folder), Path(data_dir) / "absa"
    found = verify(folder) if folder.is_dir() else {}
    missing = [s for s in FILES if s not in found]
    if missing:
        report(f"aspect sets missing from {folder}: " + ", ".join(
            f"{s} ({', '.join(f for f, _ in FILES[s].values())})" for s in missing) + f"; from {ORIGIN}")
    counts = {}
    for name, paths in found.items():
        stamp = out / name / "format.txt"
        wanted = f"{FORMAT} " + " ".join(sha for _, sha in FILES[name].values())
        if force or not stamp.exists() or stamp.read_text().strip() != wanted:
            train = parse(paths["train"], f"{name}-train")
            order = list(range(len(train)))
            random.Random(SEED).shuffle(order)
            held = set(order[:round(DEV_FRACTION * len(train))])
            parts = {"train": [s for k, s in enumerate(train) if k not in held],
                     "dev": [s for k, s in enumerate(train) if k in held],
                     "test": parse(paths["test"], f"{name}-test")}
            (out / name).mkdir(parents=True, exist_ok=True)
            for split in SPLITS:
                write_jsonl(out / name / f"{split}.jsonl", parts[split])
            stamp.write_text(wanted + "\n")
        for split in SPLITS:
            rows = read_sentences(out / name / f"{split}.jsonl")
            counts[f"{name}/{split}.jsonl"] = len(rows)
        report(f"{name}: " + ", ".join(
            f"{s} {counts[f'{name}/{s}.jsonl']} sentences" for s in SPLITS))
    return counts
