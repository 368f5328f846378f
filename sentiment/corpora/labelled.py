"""Labelled files of any origin: JSONL, CSV or TSV (maybe gzipped) read into texts, labels, confidences and
ratings, with every bad row reported by line; a directory stands for its labelled files."""
import collections
import math
from pathlib import Path

from ..checksums import sha256_file
from .readers import BadRecord, iter_records


class DataError(Exception):
    """A dataset could not be fetched, verified or read."""


def check_sha256(path, expected, hint=""):
    """Raise DataError naming path unless its SHA-256 is `expected`; hint (what to do about it) ends the message."""
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(f"{path}: SHA-256 {actual} does not match the recorded {expected}" + (f" ({hint})" if hint
                                                                                               else ""))


Labelled = collections.namedtuple("Labelled", "texts labels bad confidences ratings")


def _number(value):
    """value as a finite float, or None if it is not one (CSV gives strings; true is no number)."""
    if isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _confidence(value):
    """A row's confidence as a float in (0, 1], or None if it is not one."""
    number = _number(value)
    return number if number is not None and 0 < number <= 1 else None


SHOWN_BAD_ROWS = 5  # bad rows reported one by one; the rest are counted per reason


def _rating(value):
    """A row's rating as a float, None when absent; False when it is there but not a number."""
    if value is None or value == "":
        return None
    number = _number(value)
    return False if number is None else number


def load_labelled(path, text_field="text", label_field="label", labels=None, strict=False, report=print,
                  confidence_field=None, rating_field=None):
    """Read a labelled JSONL/CSV/TSV file into Labelled(texts, label strings, bad records, confidences, ratings).

    labels: the allowed label set (a row with another label is bad); None allows any.
    strict: raise DataError on the first bad row instead of reporting it.
    confidence_field: optional key/column with the probability, in (0, 1], that the row's label is
    right (e.g. annotator agreement); rows without it, or with no such field asked for, get 1.0.
    rating_field: optional key/column with a number (our data: the raters' mean, -4..+4); rows
    without it get None.
    Bad rows are reported: the first few with their line numbers, then a count per reason.
    """
    texts, found, bad, confidences, ratings = [], [], [], [], []
    optional = tuple(field for field in (confidence_field, rating_field) if field)
    for record in iter_records(path, text_field, keep_fields=(label_field,), optional_fields=optional):
        if not isinstance(record, BadRecord):
            label = record.fields[label_field]
            confidence = _confidence(record.fields.get(confidence_field, 1.0))
            rating = _rating(record.fields.get(rating_field)) if rating_field else None
            if isinstance(label, bool) or not isinstance(label, (str, int)):
                record = BadRecord(record.source, record.line, f"label must be a string or integer, got {label!r}")
            elif labels is not None and str(label) not in labels:
                record = BadRecord(record.source, record.line, f"unknown label {label!r}; expected one of {sorted(labels)}")
            elif not record.text.strip():
                record = BadRecord(record.source, record.line, "empty text")
            elif confidence is None:
                record = BadRecord(record.source, record.line, f"{confidence_field!r} must be a number in (0, 1], "
                                                               f"got {record.fields[confidence_field]!r}")
            elif rating is False:
                record = BadRecord(record.source, record.line, f"{rating_field!r} must be a number, "
                                                               f"got {record.fields[rating_field]!r}")
        if isinstance(record, BadRecord):
            if strict:
                raise DataError(f"{record.source}:{record.line}: {record.reason}")
            if len(bad) < SHOWN_BAD_ROWS:
                report(f"{record.source}:{record.line}: skipped: {record.reason}")
            bad.append(record)
            continue
        texts.append(record.text)
        found.append(str(record.fields[label_field]))
        confidences.append(confidence)
        ratings.append(rating)
    if len(bad) > SHOWN_BAD_ROWS:
        reasons = collections.Counter(record.reason for record in bad)
        report(f"{path}: {len(bad)} rows skipped in all: " + "; ".join(f"{n} x {r}" for r, n in reasons.most_common()))
    if not texts:
        raise DataError(f"{path}: no usable labelled rows" + (f" ({len(bad)} skipped)" if bad else ""))
    return Labelled(texts, found, bad, confidences, ratings)


def load_many(paths, report=lambda message: None, **options):
    """Several labelled files read with `load_labelled` and merged into one Labelled."""
    parts = [load_labelled(path, report=report, **options) for path in expand_paths(paths)]
    return Labelled(*([item for part in parts for item in getattr(part, field)] for field in Labelled._fields))


LABELLED_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".tab")


def expand_paths(paths):
    """Files for a path or list of paths; a directory stands for its labelled files (JSONL/CSV/TSV, maybe .gz)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.name.lower().removesuffix(".gz").endswith(LABELLED_SUFFIXES))
            if not found:
                raise DataError(f"{path}: directory holds no .jsonl, .csv or .tsv file")
            files.extend(found)
        else:
            files.append(path)
    return [str(p) for p in files]


def source_name(path):
    """A short name for a data file: its folder for data/<corpus>/<split>.jsonl, else the file's stem."""
    path = Path(path)
    stem = path.name.split(".")[0]
    return path.parent.name if stem in ("train", "dev", "test") and path.parent.name else stem
