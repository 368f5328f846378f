"""The scorer's output: records appended to OUT.partial as JSONL or CSV, a checkpoint after each fsynced window,
OUT renamed into place at the end, and a lock so that two runs never write one output."""
import csv
import fcntl
import io
import json
import os
from pathlib import Path

from ..inference.answer import csv_columns


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


def _cell(value):
    """A CSV cell: lists and objects as JSON, a missing or null value empty."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


class Writer:
    """Appends formatted records to OUT.partial and checkpoints after each fsynced window."""

    def __init__(self, out, fmt, labels, resume):
        self.out, self.fmt, self.labels = Path(out), fmt, labels
        self.columns = csv_columns(labels)
        self.probability_columns = {f"p_{label}": label for label in labels}
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
                self.file.write(self._csv_line(self.columns))
            self._save_checkpoint()

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
        row = [probabilities.get(self.probability_columns[name], "") if name in self.probability_columns
               else _cell(record.get(name)) for name in self.columns]
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
