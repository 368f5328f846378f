"""Offline batch scoring: stream records from files, score them in bounded windows, write JSONL or CSV.

Nothing is lost: every input record yields one output record, scored or an error with its
line number. Output goes to OUT.partial with a checkpoint (records done, bytes written)
saved after each window's data is fsynced; the finished file is renamed to OUT, so a killed
run never leaves a truncated OUT, and --resume continues from the last checkpoint.
With --dask, windows are scored on Dask workers (each loads the bundle once) and written
in input order, so the output is identical to the single-process run.
"""
import collections
import csv
import fcntl
import io
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from ..corpora.readers import FORMATS, BadRecord, detect_format, iter_records, open_binary

WINDOW = 2048  # records tokenised, length-sorted and scored together
PROBABILITY_DIGITS = 6
_PREDICTORS = {}  # per process (and per Dask worker): bundle path -> Predictor, loaded once


def add_arguments(p):
    p.add_argument("inputs", nargs="+", help="input files (.txt, .csv, .tsv, .jsonl, optionally .gz) or - for stdin")
    p.add_argument("--model", default="models/default", help="bundle directory (default: %(default)s)")
    p.add_argument("--out", required=True, help="output file (.jsonl or .csv)")
    p.add_argument("--output-format", choices=["jsonl", "csv"], help="default: from --out's extension, else jsonl")
    p.add_argument("--input-format", choices=FORMATS, help="default: from each input's extension (stdin: txt)")
    p.add_argument("--text-column", "--text-field", dest="text_field", default="text",
                   help="CSV/TSV column or JSON field of the text (default: %(default)s)")
    p.add_argument("--id-column", "--id-field", dest="id_field", help="column or field carried through as the id")
    p.add_argument("--attention", action="store_true", help="include tokens and the full attention matrix")
    p.add_argument("--top-pairs", type=int, default=0, metavar="K",
                   help="include the K word pairs with the largest |contribution| to the answer (exact shares of "
                        "the log-odds of the label against the runner-up), with their attention")
    p.add_argument("--contributions", action="store_true",
                   help="include the full contribution matrix, the bias and the runner-up class")
    p.add_argument("--sentences", action="store_true",
                   help="also write each text's sentences: offsets, weight in the verdict and their own answer "
                        "(with the matrices asked for)")
    p.add_argument("--window", type=int, default=WINDOW, help="records scored together (default: %(default)s)")
    p.add_argument("--device", default=None, help="cpu, gpu or gpu:N (default: GPU if present)")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint")
    p.add_argument("--fail-on-error", action="store_true", help="exit non-zero if any record could not be scored")
    p.add_argument("--dask", metavar="CLUSTER", help="local, local:N (N workers) or tcp://HOST:PORT")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def predictor_for(model, device):
    from ..inference.predictor import Predictor

    key = (str(Path(model).resolve()), device)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = Predictor.load(model, device)
    return _PREDICTORS[key]


def score_window(model, device, items, attention=False, top_pairs=0, contributions=False, sentences=False):
    """Score one window of (id, source, line, text-or-error) items; returns one output dict per item, in order.

    Each text is answered whole and sentence by sentence (sentiment.inference.documents); the sentences are
    written only with sentences=True. A one-sentence text carries its matrices at the top, as before.
    """
    from ..inference import documents

    predictor = predictor_for(model, device)
    outputs, todo, plans = [], [], []
    for index, (rid, source, line, text, error) in enumerate(items):
        base = {"id": rid, "source": source, "line": line}
        if error is None:
            try:
                plans.append(documents.plan(text, predictor.tokenizer))
                todo.append(index)
            except ValueError:
                error = "empty text"
        outputs.append(dict(base, error=error) if error else base)
    need_contributions = contributions or top_pairs > 0
    texts = [items[index][3] for index in todo]
    answers = documents.explain_plans(predictor.explain_tokenized, plans, predictor.labels, texts,
                                      attention=attention, contributions=need_contributions, top=top_pairs)
    keep = set(DOCUMENT_FIELDS)
    if attention:
        keep |= {"tokens", "attention"}
    if contributions:
        keep |= {"runner_up", "contribution_bias", "contributions"}
    if top_pairs:
        keep.add("top_pairs")
    for index, answer in zip(todo, answers):
        out = outputs[index]
        out.update({k: rounded(v) for k, v in answer.items() if k in keep})
        if sentences:
            out["sentences"] = [{k: rounded(v) for k, v in s.items() if k in keep | SENTENCE_FIELDS}
                                for s in answer["sentences"]]
    return outputs


DOCUMENT_FIELDS = ("label", "probabilities", "score", "truncated", "sentences_dropped", "unknown_tokens")
SENTENCE_FIELDS = {"text", "start", "end", "weight"}


def rounded(value):
    """Floats and arrays at PROBABILITY_DIGITS, whatever the nesting (the answers' matrices are float32)."""
    if isinstance(value, float):
        return round(value, PROBABILITY_DIGITS)
    if hasattr(value, "round") and hasattr(value, "tolist"):
        return value.round(PROBABILITY_DIGITS).tolist()
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def read_items(inputs, text_field, id_field, input_format):
    """(id, source, line, text, error) for every record of every input, in order."""
    keep = (id_field,) if id_field else ()
    for path in inputs:
        fmt = input_format or ("txt" if path == "-" else detect_format(path))
        for record in iter_records(path, text_field, keep_fields=keep, fmt=fmt):
            rid = f"{record.source}:{record.line}"
            if isinstance(record, BadRecord):
                yield rid, record.source, record.line, None, record.reason
            else:
                if id_field:
                    rid = record.fields[id_field]
                empty = None if record.text.strip() else "empty text"
                yield rid, record.source, record.line, record.text, empty


def count_records(inputs, input_format=None):
    """A quick estimate of the number of records for the progress bar (lines, less CSV/TSV headers); None for stdin."""
    if "-" in inputs:
        return None
    total = 0
    for path in inputs:
        lines, last = 0, b"\n"
        with open_binary(path) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        lines += last != b"\n"  # a last line without a newline
        header = lines > 0 and (input_format or detect_format(path)) in ("csv", "tsv")
        total += lines - header
    return total


def lock_output(out):
    """Hold an exclusive lock on OUT.lock for the whole run, or raise ValueError naming the run that holds it.

    Two runs writing one output (or a --resume while the first still runs) would interleave their records.
    """
    path = out.with_name(out.name + ".lock")
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ValueError(f"{out} is being written by another run (pid {holder}); wait for it to finish, "
                             f"or stop it and add --resume") from None
        if os.path.exists(path) and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the lock file was removed by a finishing run between our open and our lock: retry
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def unlock_output(handle):
    os.unlink(handle.name)
    handle.close()


def _blank_none(value):
    return "" if value is None else value


class Writer:
    """Appends formatted records to OUT.partial and checkpoints after each fsynced window."""

    def __init__(self, out, fmt, labels, resume):
        self.out, self.fmt, self.labels = Path(out), fmt, labels
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.checkpoint = self.out.with_name(self.out.name + ".checkpoint")
        self.done = 0
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.checkpoint.exists() and self.partial.exists():
            state = json.loads(self.checkpoint.read_text())
            self.done = state["records"]
            self.file = open(self.partial, "r+b")
            self.file.truncate(state["bytes"])
            self.file.seek(state["bytes"])
        else:
            self.file = open(self.partial, "wb")
            if fmt == "csv":
                self.file.write(self._csv_line(self._columns()))
            self._save_checkpoint()

    def _columns(self):
        return ["id", "source", "line", "label", *[f"p_{label}" for label in self.labels], "score", "truncated", "error",
                "unknown_tokens", "top_pairs", "tokens", "attention", "runner_up", "contribution_bias",
                "contributions", "sentences_dropped", "sentences"]

    @staticmethod
    def _csv_line(row):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        return buffer.getvalue().encode("utf-8", "replace")  # a lone surrogate (from JSON input) becomes '?'

    def _format(self, record):
        if self.fmt == "jsonl":
            try:
                return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates from JSON input: keep them, as JSON escapes
                return (json.dumps(record) + "\n").encode("ascii")
        probabilities = record.get("probabilities", {})
        row = [record["id"], record["source"], record["line"], record.get("label", ""),
               *[probabilities.get(label, "") for label in self.labels], _blank_none(record.get("score")),
               record.get("truncated", ""),
               record.get("error", "")]
        row += [json.dumps(record[k], ensure_ascii=False) if k in record else ""
                for k in ("unknown_tokens", "top_pairs", "tokens", "attention")]
        row += [record.get("runner_up", ""), record.get("contribution_bias", ""),
                json.dumps(record["contributions"]) if "contributions" in record else "",
                record.get("sentences_dropped", ""),
                json.dumps(record["sentences"], ensure_ascii=False) if "sentences" in record else ""]
        return self._csv_line(row)

    def write(self, records):
        self.file.write(b"".join(self._format(r) for r in records))
        self.done += len(records)
        self._save_checkpoint()

    def _save_checkpoint(self):
        self.file.flush()
        os.fsync(self.file.fileno())
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".tmp")
        tmp.write_text(json.dumps({"records": self.done, "bytes": self.file.tell()}))
        os.replace(tmp, self.checkpoint)

    def finish(self):
        self.file.close()
        os.replace(self.partial, self.out)
        self.checkpoint.unlink(missing_ok=True)


def windows(items, size):
    while True:
        window = list(islice(items, size))
        if not window:
            return
        yield window


def local_scorer(args):
    def score(window):
        return score_window(args.model, args.device, window, args.attention, args.top_pairs, args.contributions,
                            args.sentences)

    return lambda batches: (score(w) for w in batches), lambda: None


def dask_scorer(args):
    """Submit windows to Dask, at most 2 per worker in flight, and yield results in input order."""
    from dask.distributed import Client, LocalCluster

    if args.dask.startswith("local"):
        _, _, n = args.dask.partition(":")
        cluster = LocalCluster(n_workers=int(n or 2), threads_per_worker=1, processes=True,
                               dashboard_address=None, env={"OMP_NUM_THREADS": "1"})
        client = Client(cluster)
    else:
        cluster, client = None, Client(args.dask)
    in_flight_limit = 2 * max(1, len(client.scheduler_info()["workers"]))

    def run(batches):
        pending = collections.deque()
        for window in batches:
            pending.append(client.submit(score_window, args.model, args.device, window, args.attention,
                                         args.top_pairs, args.contributions, args.sentences, pure=False))
            if len(pending) >= in_flight_limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close():
        client.close()
        if cluster is not None:
            cluster.close()

    return run, close


def run(args):
    """The `score` command; returns the exit status."""
    if args.window < 1:
        raise ValueError(f"--window must be a positive integer, got {args.window}")
    if args.top_pairs < 0:
        raise ValueError(f"--top-pairs must be >= 0, got {args.top_pairs}")
    started = time.time()
    out = Path(args.out)
    fmt = args.output_format or ("csv" if out.suffix.lower() == ".csv" else "jsonl")
    labels = predictor_for(args.model, args.device).labels  # fails early on a bad bundle or device
    lock = lock_output(out)
    try:
        return _score(args, out, fmt, labels, started)
    finally:
        unlock_output(lock)


def _score(args, out, fmt, labels, started):
    writer = Writer(out, fmt, labels, args.resume)
    skipped = writer.done
    items = islice(read_items(args.inputs, args.text_field, args.id_field, args.input_format), skipped, None)
    scorer, close = dask_scorer(args) if args.dask else local_scorer(args)
    total = count_records(args.inputs, args.input_format)
    progress = tqdm(total=total, initial=skipped, unit="rec", file=sys.stderr, disable=args.no_progress,
                    dynamic_ncols=True)
    scored = errors = 0
    try:
        for records in scorer(windows(items, args.window)):
            writer.write(records)
            bad = sum(1 for r in records if "error" in r)
            errors += bad
            scored += len(records) - bad
            progress.update(len(records))
        progress.total = progress.n  # the estimate was off where a CSV row spans lines
    finally:
        progress.close()
        close()
    writer.finish()
    seconds = time.time() - started
    summary = {"scored": scored, "errors": errors, "resumed_after": skipped, "seconds": round(seconds, 2),
               "records_per_second": round((scored + errors) / seconds, 1) if seconds else None, "output": str(out)}
    print(json.dumps(summary), file=sys.stderr)
    if scored == 0 and skipped == 0:
        print("sentiment score: error: no record could be scored", file=sys.stderr)
        return 1
    return 1 if args.fail_on_error and errors else 0
