"""The README's results tables, made from the benchmarks' own files in bench/results/.

Each table sits in README.md between `<!-- table NAME -->` and `<!-- /table -->`; a benchmark run
changes its JSON file, and one command rewrites the tables:

    python -m bench.tables            # rewrite the README's tables from bench/results/*.json
    python -m bench.tables --check    # exit 1, naming them, when a table differs from its file
"""
import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CORPORA = ("movie", "amazon", "nyt", "tweets")


def read(name):
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def markdown(header, rows, note):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines + ["", note])


def provenance(results):
    return f"`{results['command']}` on {results['machine']}." if "command" in results else ""


def sentences():
    """Three ways per test split, with dev macro-F1 and the behaviour suite (bench/quality/accuracy.py)."""
    results = read("accuracy.json")
    rows = []
    for name, row in results["systems"].items():
        cells = [f"{row['test'][c]['accuracy']:.1%} / {row['test'][c]['macro_f1']:.3f}" for c in CORPORA]
        rows.append([name, f"{row['mean_dev_macro_f1']:.3f}", *cells, f"{row['mean_macro_f1']:.3f}",
                     f"{row['behaviour']['overall']:.1%}"])
    return markdown(["system", "dev macro-F1", *CORPORA, "mean macro-F1", "behaviour"], rows,
                    "Accuracy / macro-F1 per test split. " + provenance(results))


def polar():
    """Polar accuracy and Pearson r of the score with the raters' mean, per test split (bench/quality/accuracy.py)."""
    results = read("accuracy.json")
    rows = [[name, *(f"{row['test'][c]['polar']:.1%}" for c in CORPORA), *(f"{row['test'][c]['score_r']:.3f}"
                                                                           for c in CORPORA)]
            for name, row in results["systems"].items()]
    return markdown(["system", *(f"polar: {c}" for c in CORPORA), *(f"r: {c}" for c in CORPORA)], rows,
                    "Polar: the test sentences with a non-zero mean rating, by its sign. " + provenance(results))


def calibration():
    """The default's expected calibration error per test split, before and after its temperature."""
    results = read("accuracy.json")
    name, row = next(iter(results["systems"].items()))
    rows = [[c, f"{before:.1%}", f"{after:.1%}", f"{floor:.1%}"] for c, (before, after, floor)
            in row["calibration"].items()]
    return markdown(["test split", "ECE, temperature 1", f"ECE, temperature {row['temperature']}",
                     "a calibrated model's ECE here"], rows, f"{name}, 15 bins. " + provenance(results))


def documents():
    """Whole documents: the held-out reviews and editorials, and the document behaviour suite."""
    results = read("documents.json")
    rows = []
    for name, row in results["test"].items():
        a = row["all"]
        suite = results["behaviour"][name]
        rows.append([name, f"{a['accuracy']:.1%}", f"{a['macro_f1']:.3f}", f"{a['polar']:.1%}", f"{a['score_r']:.3f}",
                     " / ".join(f"{v:.0%}" for v in suite.values())])
    capabilities = " / ".join(next(iter(results["behaviour"].values())))
    return markdown(["system", "accuracy", "macro-F1", "polar", "score r", f"suite: {capabilities}"], rows,
                    f"Test documents, model {results['model']}. " + provenance(results))


def serving():
    """Requests per second and latency through gunicorn, by body and concurrency (bench/speed/load.py)."""
    results = read("load.json")
    runs = [r for r in results["runs"] if r["concurrency"] in (1, 32) and r["body"] in ("single", "review10")]
    sides = list(dict.fromkeys((Path(r["model"]).name, r["layout"]) for r in runs))
    cases = list(dict.fromkeys((r["body"], r["concurrency"]) for r in runs))
    found = {(Path(r["model"]).name, r["layout"], r["body"], r["concurrency"]): r for r in runs}
    rows = []
    for body, concurrency in cases:
        cells = []
        for model, layout in sides:
            r = found.get((model, layout, body, concurrency))
            cells.append(f"{r['requests_per_second']:,.1f} req/s, {r['p50_ms']:.1f} / {r['p99_ms']:.0f} ms"
                         if r else "")
        rows.append([body, concurrency, *cells])
    return markdown(["body", "concurrency", *(f"{m} ({layout}): p50 / p99" for m, layout in sides)], rows,
                    provenance(results))


def reviews():
    """Whole reviews no one here wrote: polar / exact accuracy per test set, scale's r (bench/quality/reviews.py)."""
    results = read("reviews.json")
    sets = list(results["sets"])
    rows = []
    for name, row in results["systems"].items():
        cells = [f"{row[k]['polar']['value']:.1%} / {row[k]['exact']['value']:.1%}" for k in sets if k != "scale"]
        rows.append([name, *cells, f"{row['scale']['score_r']:.3f}" if "score_r" in row.get("scale", {}) else ""])
    imdb = results["sets"].get("imdb", 0)
    interval = next(iter(results["systems"].values()))["imdb"]["polar"]["ci95"] if imdb else 0
    return markdown(["system", *(f"{k} ({results['sets'][k]})" for k in sets if k != "scale"),
                     f"scale ({results['sets'].get('scale', 0)}): r"], rows,
                    f"Polar / exact accuracy; IMDB is a seeded sample of its test split (95% interval about "
                    f"±{interval:.1%}). " + provenance(results))


def stars():
    """IMDB test by the reviewer's stars: polar accuracy and the labels given (bench/quality/reviews.py)."""
    results = read("reviews.json")
    rows = []
    name, default = next(iter(results["systems"].items()))
    earlier = next((row for n, row in results["systems"].items() if n.startswith("earlier default")), None)
    for star, cell in default["imdb_by_stars"].items():
        said = ", ".join(f"{k} {cell.get(k, 0)}" for k in ("negative", "neutral", "mixed", "positive"))
        before = f"{earlier['imdb_by_stars'][star]['polar']:.1%}" if earlier else ""
        rows.append([star, cell["n"], f"{cell['polar']:.1%}", before, said])
    return markdown(["stars", "reviews", "polar", "polar, earlier default", "labels given"], rows,
                    f"{name}. " + provenance(results))


def pairs():
    """Top pairs that hold punctuation, how focused the attention is, and faithfulness (bench/quality/pairs.py)."""
    results = read("pairs.json")
    rows = [[name, f"{r['top5_punctuation']:.1%}", f"{r['top5_punctuation_or_stop_pair']:.1%}",
             f"{r['top1_punctuation']:.1%}", f"{r['top10pct_attention_median']:.1%}",
             f"{r['entropy_ratio_median']:.3f}",
             f"{r['zero_attention_share']:.1%}", " / ".join(f"{r[f'comprehensiveness@{k}']:.3f}" for k in (1, 2, 3))]
            for name, r in results["systems"].items()]
    sentences = next(iter(results["systems"].values()))["sentences"]
    return markdown(["model", "top-5 pairs with punctuation", "... or two stop words", "top pair with punctuation",
                     "attention on the top 10% of pairs (median)", "entropy / uniform (median)", "exact zeros",
                     "comprehensiveness k=1/2/3"], rows,
                    f"{sentences} movie and Amazon test sentences. " + provenance(results))


ABSA = ("restaurants", "laptops", "tweets")


def aspects():
    """Polarity of given targets per test set, side by side (bench/aspects.py)."""
    results = read("aspects.json")
    sets = results["sets"]

    def cells(get):
        return [get(name) for name in ABSA]

    pair = lambda f: f"{f['accuracy']:.1f} / {f['macro_f1']:.1f}"  # noqa: E731
    rows = [[f"model ({results['model']})", *cells(lambda n: pair(sets[n]["model"]))]]
    if results.get("reference"):
        rows.append(["plain MiniLM fine-tune, \"sentence [SEP] target\" (BERT-SPC's input)",
                     *cells(lambda n: pair(sets[n]["reference"]))])
    rows.append(["VADER, 3 words either side", *cells(lambda n: pair(sets[n]["vader_window"]))])
    for name, figures in results["published"].items():
        rows.append([f"published: {name}", *cells(lambda n: f"{figures[n][0]:.1f}" + (
            f" / {figures[n][1]:.1f}" if figures[n][1] is not None else ""))])
    rows.append(["model: extracted targets, P / R / F1 (optimistic P)", *cells(
        lambda n: "" if "extraction" not in sets[n] else
        "{precision:.1f} / {recall:.1f} / {f1:.1f}".format(**sets[n]["extraction"]))])
    rows.append(["model: top-3 pairs holding a target word",
                 *cells(lambda n: f"{sets[n]['top3_pairs_with_target']:.1f}%")])
    rows.append(["model: largest gap, contributions + bias against log-odds",
                 *cells(lambda n: f"{sets[n]['max_contribution_gap']:.1e}")])
    return markdown(["system", *(f"{n} ({sets[n]['model']['targets']})" for n in ABSA)], rows,
                    "Accuracy / macro-F1 (%) on the test targets. " + provenance(results))


def aspect_serving():
    """/predict with and without two given targets (bench/aspects.py)."""
    results = read("aspects.json")
    rows = [[name, " · ".join(f"{r['p50_ms']:.1f} ms" for r in runs),
             " · ".join(f"{r['requests_per_second']:.1f}" for r in runs)] for name, runs in results["serving"].items()]
    return markdown(["body", "p50 (each run)", "requests/s (each run)"], rows,
                    "A two-sentence review, 1 worker × 32 threads, runs alternated. "
                    + provenance({**results, "command": results.get("serving_command", results["command"])}))


def aspect_report():
    """The aspects summary of Blitzer's kitchen test reviews (bench/quality/aspect_report.py)."""
    results = read("aspect_report.json")
    rows = [[r["target"], r["mentions"], r["negative"], r["neutral"], r["positive"], f"{r['mean_score']:+.2f}"]
            for r in results["rows"]]
    return markdown(["target", "mentions", "negative", "neutral", "positive", "mean score"], rows,
                    f"The first {len(rows)} of {results['targets']} targets mentioned twice or more in "
                    f"{results['reviews']} reviews ({results['seconds']:.0f} s). " + provenance(results))


TABLES = {"sentences": sentences, "polar": polar, "calibration": calibration, "documents": documents,
          "serving": serving, "reviews": reviews, "stars": stars, "pairs": pairs, "aspects": aspects,
          "aspect_serving": aspect_serving, "aspect_report": aspect_report}
BLOCK = re.compile(r"(<!-- table (\w+) -->\n)(.*?)(<!-- /table -->)", re.S)


def rewrite(text):
    """The README's text with every table remade from its file; the names of those that changed."""
    changed = []

    def remake(match):
        head, name, body, tail = match.groups()
        table = TABLES[name]() + "\n"
        if table != body:
            changed.append(name)
        return head + table + tail

    return BLOCK.sub(remake, text), changed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the tables are up to date")
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    args = parser.parse_args()
    readme = Path(args.readme)
    text, changed = rewrite(readme.read_text(encoding="utf-8"))
    if args.check:
        if changed:
            print(f"out of date: {', '.join(changed)} (run python -m bench.tables)")
        return 1 if changed else 0
    readme.write_text(text, encoding="utf-8")
    print(f"rewrote {', '.join(changed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
