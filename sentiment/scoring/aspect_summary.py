"""What many reviews praise and blame: the `aspects` command.

Every record is answered by the one prediction path with its targets found (`aspects=True`), in windows, locally or
on Dask (sentiment.scoring.job). Targets are grouped by their lower-cased form with plurals folded ("rooms" with
"room"); each group gets its mentions, negative / neutral / positive counts, mean score and two example sentences
(the strongest praise and the strongest blame, by score) with their record ids. Groups come most praised and most
blamed first: by |positive - negative|, then by mentions.
"""
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tqdm import tqdm

from ..corpora.readers import FORMATS
from .job import count_records, dask_scorer, local_scorer, read_items, windows

COLUMNS = ("target", "mentions", "negative", "neutral", "positive", "net", "mean_score", "example_1_id", "example_1",
           "example_2_id", "example_2", "forms")


def add_summary_arguments(p):
    p.add_argument("inputs", nargs="+", help="review files (.txt, .csv, .tsv, .jsonl, optionally .gz)")
    p.add_argument("--out", required=True, help="the summary, CSV (.csv) or JSON lines (.jsonl)")
    p.add_argument("--model", default="models/default", help="bundle with aspect heads (default: %(default)s)")
    p.add_argument("--plot", metavar="PNG", help="also draw one diverging bar per target to this PNG")
    p.add_argument("--top", type=int, default=20, help="targets drawn in the plot (default: %(default)s)")
    p.add_argument("--min-mentions", type=int, default=2, help="targets mentioned fewer times are left out "
                                                                "(default: %(default)s)")
    p.add_argument("--input-format", choices=FORMATS, help="default: from each input's extension")
    p.add_argument("--text-column", "--text-field", dest="text_field", default="text")
    p.add_argument("--id-column", "--id-field", dest="id_field", help="column or field that names each review")
    p.add_argument("--window", type=int, default=256, help="reviews answered together (default: %(default)s)")
    p.add_argument("--device", default=None)
    p.add_argument("--dask", metavar="CLUSTER", help="local, local:N (N workers) or tcp://HOST:PORT")
    p.add_argument("--no-progress", action="store_true")


def fold(target):
    """The grouping key of a target: lower-cased, spaces collapsed, its last word's plural folded."""
    words = re.sub(r"\s+", " ", target.lower()).strip().split(" ")
    last = words[-1]
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 4 and last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def summarise(records, min_mentions=1):
    """Scored records (dicts with "id", "aspects" and "sentences") -> summary rows (dicts of COLUMNS), in order."""
    groups = defaultdict(list)
    for record in records:
        for aspect in record.get("aspects") or ():
            if aspect.get("found"):
                sentence = record["sentences"][aspect["sentence"]]["text"]
                groups[fold(aspect["target"])].append((aspect, record["id"], sentence))
    rows = []
    for mentions in groups.values():
        if len(mentions) < min_mentions:
            continue
        counts = Counter(a["label"] for a, _, _ in mentions)
        forms = Counter(a["target"].lower() for a, _, _ in mentions)
        by_score = sorted(mentions, key=lambda m: m[0]["score"])
        examples = [by_score[-1], by_score[0]] if len(by_score) > 1 else by_score
        row = {"target": forms.most_common(1)[0][0], "mentions": len(mentions),
               "negative": counts["negative"], "neutral": counts["neutral"], "positive": counts["positive"],
               "net": counts["positive"] - counts["negative"],
               "mean_score": round(sum(a["score"] for a, _, _ in mentions) / len(mentions), 4),
               "forms": "; ".join(form for form, _ in forms.most_common())}
        for k in (1, 2):
            _, rid, sentence = examples[k - 1] if k <= len(examples) else (None, "", "")
            row[f"example_{k}_id"], row[f"example_{k}"] = rid, sentence
        rows.append(row)
    return sorted(rows, key=lambda r: (-abs(r["net"]), -r["mentions"], r["target"]))


def write_summary(rows, out):
    out = Path(out)
    if out.suffix.lower() == ".jsonl":
        out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        return
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def plot_summary(rows, path, top=20, title="What the reviews praise and blame"):
    """One diverging bar per target: its negative mentions to the left of 0, positive to the right, neutral in
    grey astride 0; the top rows of the summary, most praised and most blamed at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = rows[:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shown) + 1.2))
    places = range(len(shown))
    ax.barh(places, [-r["negative"] for r in shown], color="#c0392b", label="negative")
    ax.barh(places, [r["positive"] for r in shown], color="#27ae60", label="positive")
    ax.barh(places, [r["neutral"] for r in shown], left=[-r["neutral"] / 2 for r in shown], color="#bdc3c7",
            alpha=0.8, label="neutral", height=0.35)
    ax.set_yticks(list(places), [f"{r['target']} ({r['mentions']})" for r in shown])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("mentions: blamed ← → praised")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args):
    """The `aspects` command; returns the exit status."""
    if args.window < 1 or args.top < 1 or args.min_mentions < 1:
        raise ValueError("--window, --top and --min-mentions must be positive integers")
    args.attention, args.top_pairs, args.contributions, args.sentences, args.aspects = False, 0, False, True, "auto"
    items = read_items(args.inputs, args.text_field, args.id_field, args.input_format)
    scorer, close = dask_scorer(args) if args.dask else local_scorer(args)
    progress = tqdm(total=count_records(args.inputs, args.input_format), unit="rec", file=sys.stderr,
                    disable=args.no_progress, dynamic_ncols=True)
    scored = []
    try:
        for records in scorer(windows(items, args.window)):
            scored += [r for r in records if "error" not in r]
            progress.update(len(records))
    finally:
        progress.close()
        close()
    rows = summarise(scored, args.min_mentions)
    write_summary(rows, args.out)
    if args.plot:
        plot_summary(rows, args.plot, args.top)
    print(json.dumps({"reviews": len(scored), "targets": len(rows), "output": str(args.out)}), file=sys.stderr)
    return 0 if scored else 1
