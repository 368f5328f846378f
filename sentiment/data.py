"""Real review data and labelled datasets.

`prepare()` fetches the vaderSentiment 3.3.2 source archive from PyPI, checks it against
the SHA-256 recorded in data/, labels the human-rated sentences by sign (zeros dropped)
and writes a deterministic stratified train/dev/test split plus the Amazon cross-domain
test file as JSONL. `load_labelled()` reads users' own labelled files.
"""
import collections
import hashlib
import io
import json
import math
import random
import subprocess
import sys
import tarfile
from pathlib import Path

from .readers import BadRecord, iter_records

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ARCHIVE = "vaderSentiment-3.3.2.tar.gz"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MOVIES = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
AMAZON = "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"
SPLIT_SEED = 20180514
SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}
OUTPUTS = ("train.jsonl", "dev.jsonl", "test.jsonl", "amazon.jsonl")


class DataError(Exception):
    """A dataset could not be fetched, verified or read."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_archive(data_dir=DATA_DIR):
    """Download the sdist with pip (cached under data/cache) and verify its SHA-256."""
    cache = Path(data_dir) / "cache"
    archive = cache / ARCHIVE
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               "vaderSentiment==3.3.2", "--dest", str(cache)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise DataError(f"pip download of vaderSentiment==3.3.2 failed:\n{result.stderr.strip()}")
    expected = (Path(__file__).resolve().parent.parent / "data" / f"{ARCHIVE}.sha256").read_text().split()[0]
    actual = sha256_file(archive)
    if actual != expected:
        raise DataError(f"{archive}: SHA-256 {actual} does not match the recorded {expected}")
    return archive


def read_rated_sentences(archive, member):
    """(text, mean rating) pairs of one ground-truth file inside the nested archive."""
    with tarfile.open(archive) as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = inner.extractfile(member).read().decode("utf-8")
    rows = []
    for line in raw.splitlines():
        if line.strip():
            _, rating, text = line.split("\t", 2)
            rows.append((text.strip(), float(rating)))
    return rows


def label_by_sign(rows):
    """Examples labelled 'positive'/'negative' by the sign of the mean rating; zeros dropped.

    Each carries a confidence, sigmoid(2 |mean rating|): 0.55 for a sentence the raters
    put near 0 (+0.1), 0.97 for the median one (1.8). Training uses it as a soft target.
    """
    return [{"text": text, "label": "positive" if score > 0 else "negative",
             "confidence": round(1 / (1 + math.exp(-2 * abs(score))), 4)} for text, score in rows if score != 0]


def stratified_split(examples, fractions=SPLITS, seed=SPLIT_SEED):
    """Deterministic per-label shuffle, then cut each label's list by the fractions."""
    rng = random.Random(seed)
    parts = {name: [] for name in fractions}
    for label in sorted({e["label"] for e in examples}):
        group = [e for e in examples if e["label"] == label]
        rng.shuffle(group)
        start = 0
        names = list(fractions)
        for i, name in enumerate(names):
            end = len(group) if i == len(names) - 1 else start + round(fractions[name] * len(group))
            parts[name].extend(group[start:end])
            start = end
    for name in parts:
        rng.shuffle(parts[name])
    return parts


def write_jsonl(path, examples):
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for example in examples:
            f.write(json.dumps(example, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _has_confidence(path):
    """Files written before confidences were added are rebuilt (same split, one more field)."""
    with open(path, encoding="utf-8") as f:
        return "confidence" in json.loads(f.readline() or "{}")


def prepare(data_dir=DATA_DIR, force=False):
    """Fetch, verify, label and split; returns {file name: record count}. Idempotent."""
    data_dir = Path(data_dir)
    if not force and all((data_dir / name).exists() for name in OUTPUTS) and _has_confidence(data_dir / OUTPUTS[0]):
        return {name: sum(1 for _ in open(data_dir / name, encoding="utf-8")) for name in OUTPUTS}
    archive = fetch_archive(data_dir)
    parts = stratified_split(label_by_sign(read_rated_sentences(archive, MOVIES)))
    parts["amazon"] = label_by_sign(read_rated_sentences(archive, AMAZON))
    counts = {}
    for name, examples in parts.items():
        write_jsonl(data_dir / f"{name}.jsonl", examples)
        counts[f"{name}.jsonl"] = len(examples)
    return counts


Labelled = collections.namedtuple("Labelled", "texts labels bad confidences")


def _confidence(value):
    """A row's confidence as a float in (0, 1], or None if it is not one (CSV gives strings)."""
    if isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= 1 else None


def load_labelled(path, text_field="text", label_field="label", labels=None, strict=False, report=print,
                  confidence_field=None):
    """Read a labelled JSONL/CSV/TSV file into Labelled(texts, label strings, bad records, confidences).

    labels: the allowed label set (a row with another label is bad); None allows any.
    strict: raise DataError on the first bad row instead of reporting it.
    confidence_field: optional key/column with the probability, in (0, 1], that the row's label is
    right (e.g. annotator agreement); rows without it, or with no such field asked for, get 1.0.
    """
    texts, found, bad, confidences = [], [], [], []
    optional = (confidence_field,) if confidence_field else ()
    for record in iter_records(path, text_field, keep_fields=(label_field,), optional_fields=optional):
        if not isinstance(record, BadRecord):
            label = record.fields[label_field]
            confidence = _confidence(record.fields.get(confidence_field, 1.0))
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                record = BadRecord(record.source, record.line, f"label must be a string or integer, got {label!r}")
            elif labels is not None and str(label) not in labels:
                record = BadRecord(record.source, record.line, f"unknown label {label!r}; expected one of {sorted(labels)}")
            elif not record.text.strip():
                record = BadRecord(record.source, record.line, "empty text")
            elif confidence is None:
                record = BadRecord(record.source, record.line, f"{confidence_field!r} must be a number in (0, 1], "
                                                               f"got {record.fields[confidence_field]!r}")
        if isinstance(record, BadRecord):
            if strict:
                raise DataError(f"{record.source}:{record.line}: {record.reason}")
            report(f"{record.source}:{record.line}: skipped: {record.reason}")
            bad.append(record)
            continue
        texts.append(record.text)
        found.append(str(record.fields[label_field]))
        confidences.append(confidence)
    if not texts:
        raise DataError(f"{path}: no usable labelled rows")
    return Labelled(texts, found, bad, confidences)
