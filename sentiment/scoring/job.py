"""Offline batch scoring: stream records from files, score them in bounded windows, write JSONL or CSV.

Nothing is lost: every input record yields one output record, scored or an error with its
line number. Output goes to OUT.partial with a checkpoint (records done, bytes written)
saved after each window's data is fsynced; the finished file is renamed to OUT, so a killed
run never leaves a truncated OUT, and --resume continues from the last checkpoint.
With --dask, windows are scored on Dask workers (each loads the bundle once) and written
in input order, so the output is identical to the single-process run.
"""
import collections
import json
import sys
import time
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from ..corpora.readers import FORMATS, BadRecord, detect_format, iter_records, open_binary
from ..inference.answer import Options
from .writer import Writer, lock_output, unlock_output

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
    p.add_argument("--aspects", choices=["auto"], help="auto: find each text's targets and answer each one")
    p.add_argument("--aspects-field", metavar="NAME", help="column or field holding each record's targets, a JSON "
                   "list of strings or {\"start\", \"end\"} spans, answered each (a record without it has none)")
    p.add_argument("--window", type=int, default=WINDOW, help="records scored together (default: %(default)s)")
    p.add_argument("--device", default=None, help="cpu, gpu or gpu:N (default: GPU if present)")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint")
    p.add_argument("--fail-on-error", action="store_true", help="exit non-zero if any record could not be scored")
    p.add_argument("--dask", metavar="CLUSTER", help="local, local:N (N workers) or tcp://HOST:PORT")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def predictor_for(model, device):
    from ..inference.predictor import Predictor  # MXNet loads with the model, not with the command line

    key = (str(Path(model).resolve()), device)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = Predictor.load(model, device)
    return _PREDICTORS[key]


def score_window(model, device, items, attention=False, top_pairs=0, contributions=False, sentences=False,
                 aspects=None):
    """Score one window of (id, source, line, text-or-error, targets) items; returns one output dict per item, in
    order.

    Each text is answered whole and sentence by sentence (Predictor's one path); the sentences are
    written only with sentences=True, the tokens with the attention. A one-sentence text carries its
    matrices at the top. aspects: None, "auto" (each text's targets found) or "field" (each item's targets).
    A record whose targets cannot be answered gets that error; the others are answered as usual.
    """
    from ..inference.aspects import AspectError

    predictor = predictor_for(model, device)
    options = Options(attention=attention, contributions=contributions, top_pairs=top_pairs or None,
                      tokens=attention, sentences=sentences, model=False)
    texts = [text if error is None else "" for _, _, _, text, error, _ in items]
    requests = None if aspects is None else [True if aspects == "auto" else targets for *_, targets in items]
    try:
        answers = predictor(texts, options, skip_empty=True, aspects=requests)
    except AspectError:
        if len(items) == 1:
            raise
        return [out for item in items for out in _one_by_one(model, device, item, options, aspects)]
    outputs = []
    for (rid, source, line, _, error, _), answer in zip(items, answers):
        base = {"id": rid, "source": source, "line": line}
        if answer is None:
            outputs.append(dict(base, error=error or "empty text"))
        else:
            outputs.append({**base, **rounded(answer.to_dict())})
    return outputs


def _one_by_one(model, device, item, options, aspects):
    from ..inference.aspects import AspectError

    try:
        return score_window(model, device, [item], options.attention, options.top_pairs or 0, options.contributions,
                            options.sentences, aspects)
    except AspectError as exc:
        rid, source, line, *_ = item
        return [{"id": rid, "source": source, "line": line, "error": str(exc)}]


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


def read_items(inputs, text_field, id_field, input_format, aspects_field=None):
    """(id, source, line, text, error, targets) for every record of every input, in order; targets: the record's
    aspects_field as a list (JSON in a CSV cell), an empty list without one."""
    keep = (id_field,) if id_field else ()
    optional = (aspects_field,) if aspects_field else ()
    for path in inputs:
        fmt = input_format or ("txt" if path == "-" else detect_format(path))
        for record in iter_records(path, text_field, keep_fields=keep, fmt=fmt, optional_fields=optional):
            rid = f"{record.source}:{record.line}"
            if isinstance(record, BadRecord):
                yield rid, record.source, record.line, None, record.reason, None
                continue
            if id_field:
                rid = record.fields[id_field]
            targets, error = _targets(record.fields.get(aspects_field, []) if aspects_field else None, aspects_field)
            error = error or (None if record.text.strip() else "empty text")
            yield rid, record.source, record.line, record.text, error, targets


def _targets(value, field):
    """(targets, error) of a record's aspects field: a list, or a JSON list in a string."""
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, f"{field!r} is not a JSON list of targets"
    if not isinstance(value, list):
        return None, f"{field!r} must be a list of targets, got {type(value).__name__}"
    return value, None


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


def windows(items, size):
    while True:
        window = list(islice(items, size))
        if not window:
            return
        yield window


def aspect_mode(args):
    """None, "auto" or "field": what the scorer asks of each record's aspects."""
    if getattr(args, "aspects", None) == "auto":
        return "auto"
    return "field" if getattr(args, "aspects_field", None) else None


def local_scorer(args):
    def score(window):
        return score_window(args.model, args.device, window, args.attention, args.top_pairs, args.contributions,
                            args.sentences, aspect_mode(args))

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
                                         args.top_pairs, args.contributions, args.sentences, aspect_mode(args),
                                         pure=False))
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
    if args.aspects and args.aspects_field:
        raise ValueError("give --aspects auto or --aspects-field, not both")
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
    items = islice(read_items(args.inputs, args.text_field, args.id_field, args.input_format, args.aspects_field),
                   skipped, None)
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
