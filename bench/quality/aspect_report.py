"""The manager's report on reviews no one here wrote: `sentiment aspects` over Blitzer's kitchen test reviews.

Writes the summary's figures (target, mentions, counts, mean score; never the reviews' sentences) to
bench/results/aspect_report.json and its plot to bench/results/aspect_report.png, for the README.

    python -m bench.quality.aspect_report [--model models/default] [--domain kitchen_&_housewares] [--top 12]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.provenance import stamp
from sentiment.corpora.reviews import review_files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--domain", default="kitchen_&_housewares")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(review_files("test", ("blitzer",))[0], encoding="utf-8")]
    rows = [r for r in rows if r.get("domain") == args.domain]
    with tempfile.TemporaryDirectory() as tmp:
        reviews = Path(tmp) / "reviews.jsonl"
        reviews.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
        started = time.time()
        subprocess.run([sys.executable, "-m", "sentiment", "aspects", str(reviews), "--model", args.model, "--out",
                        str(Path(tmp) / "aspects.jsonl"), "--id-field", "id", "--plot",
                        "bench/results/aspect_report.png", "--top", str(args.top), "--no-progress"], check=True)
        seconds = time.time() - started
        summary = [json.loads(line) for line in open(Path(tmp) / "aspects.jsonl", encoding="utf-8")]
    keep = ("target", "mentions", "negative", "neutral", "positive", "net", "mean_score")
    result = {**stamp(), "domain": args.domain, "reviews": len(rows), "seconds": round(seconds, 1),
              "targets": len(summary), "rows": [{k: row[k] for k in keep} for row in summary[:args.top]]}
    Path("bench/results/aspect_report.json").write_text(json.dumps(result, indent=2) + "\n")
    for row in result["rows"]:
        print(row)


if __name__ == "__main__":
    main()
