"""Streaming readers for text files: .txt, .jsonl, .csv, .tsv (optionally .gz, or '-' for stdin).

Each physical record yields either a `Record` or a `BadRecord` carrying its line
number and the reason, so callers can report every problem and drop nothing silently.
"""
import csv
import gzip
import json
import sys
import zlib
from dataclasses import dataclass, field

FORMATS = ("txt", "jsonl", "csv", "tsv")


@dataclass
class Record:
    source: str
    line: int
    text: str
    fields: dict = field(default_factory=dict)


@dataclass
class BadRecord:
    source: str
    line: int
    reason: str


def detect_format(path):
    """File format from the extension (a trailing .gz is ignored); '-' and unknown ones read as txt."""
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for fmt, suffixes in (("jsonl", (".jsonl", ".json", ".ndjson")), ("csv", (".csv",)), ("tsv", (".tsv", ".tab"))):
        if name.endswith(suffixes):
            return fmt
    return "txt"


def open_binary(path):
    """A binary stream for a path, a .gz path (decompressed), or '-' (stdin)."""
    if str(path) == "-":
        return sys.stdin.buffer
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


def _decoded_lines(stream, source):
    """(line_number, text or BadRecord) for each physical line; invalid UTF-8 becomes a BadRecord."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield number, BadRecord(source, number, f"invalid UTF-8 at byte {exc.start}")


def iter_records(path, text_field="text", keep_fields=(), fmt=None, optional_fields=()):
    """Yield a Record or BadRecord for every record of `path`, in order.

    text_field: JSON key or CSV/TSV column holding the text (ignored for txt).
    keep_fields: other keys/columns copied into Record.fields (missing ones are errors).
    optional_fields: keys/columns copied into Record.fields where a record has them.
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    source = str(path)
    with open_binary(path) as stream:
        lines = _decoded_lines(stream, source)
        if fmt in ("csv", "tsv"):
            records = _csv_records(lines, source, "," if fmt == "csv" else "\t", text_field, keep_fields,
                                   optional_fields)
        else:
            records = _line_records(lines, source, fmt, text_field, keep_fields, optional_fields)
        try:
            yield from records
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ValueError(f"{source}: corrupt gzip data ({exc})") from None


def _line_records(lines, source, fmt, text_field, keep_fields, optional_fields):
    for number, line in lines:
        if isinstance(line, BadRecord):
            yield line
        elif fmt == "txt":
            yield Record(source, number, line)
        elif not line.strip():
            continue  # blank lines between JSON records are not records
        else:
            yield _json_record(source, number, line, text_field, keep_fields, optional_fields)


def _json_record(source, number, line, text_field, keep_fields, optional_fields):
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        return BadRecord(source, number, f"invalid JSON: {getattr(exc, 'msg', exc)}")
    if not isinstance(obj, dict):
        return BadRecord(source, number, f"expected a JSON object, got {type(obj).__name__}")
    return _checked(source, number, obj, text_field, keep_fields, optional_fields)


def _checked(source, number, obj, text_field, keep_fields, optional_fields):
    """A Record, or a BadRecord naming what is missing; an empty text is a Record (callers say "empty text")."""
    missing = [name for name in (text_field, *keep_fields) if obj.get(name) is None or
               (name != text_field and obj.get(name) == "")]
    if missing:
        return BadRecord(source, number, f"missing {', '.join(repr(m) for m in missing)}")
    text = obj[text_field]
    if not isinstance(text, str):
        return BadRecord(source, number, f"{text_field!r} must be a string, got {type(text).__name__}")
    fields = {name: obj[name] for name in keep_fields}
    fields.update({name: obj[name] for name in optional_fields if obj.get(name) not in (None, "")})
    return Record(source, number, text, fields)


def _csv_records(lines, source, delimiter, text_field, keep_fields, optional_fields):
    """CSV/TSV rows with a header; a row spanning several lines reports its first line."""
    first_line = [None]  # first physical line of the row being read

    def good_lines():
        for number, line in lines:
            if isinstance(line, BadRecord):
                bad.append(line)
                continue
            if first_line[0] is None:
                first_line[0] = number
            yield line + "\n"

    bad = []
    reader = csv.reader(good_lines(), delimiter=delimiter, strict=True)
    header = None
    while True:
        first_line[0] = None
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield from bad
            bad.clear()
            yield BadRecord(source, first_line[0], f"broken CSV quoting: {exc}")
            continue
        yield from bad
        bad.clear()
        if header is None:
            header = row
            absent = [name for name in (text_field, *keep_fields) if name not in header]
            if absent:
                raise ValueError(f"{source}: header {header} has no column {', '.join(map(repr, absent))}")
            continue
        start = first_line[0]
        if not row:
            continue
        if len(row) != len(header):
            yield BadRecord(source, start, f"expected {len(header)} columns, got {len(row)}")
            continue
        yield _checked(source, start, dict(zip(header, row)), text_field, keep_fields, optional_fields)
    yield from bad
