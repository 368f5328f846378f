"""Where the raters stop calling a sentence neutral: the evidence for the neutral band in data/README.md.

Reads each sentence's 20 ratings (the archive's *_anonDataRatings.txt files) and prints, by
|mean rating|: how many raters chose 0, how many sentences most raters put at 0, and how many have
a mean at least 2 standard errors from 0.

    python -m bench.quality.neutral_band
"""
import io
import json
import math
import statistics
import tarfile

from sentiment.corpora.datasets import CORPORA, INNER, fetch_archive

EDGES = (0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 4.01)


def ratings(archive):
    """[(mean, [20 ratings])] of every sentence of the four corpora."""
    with tarfile.open(archive) as outer:
        inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile(INNER).read()))
    rows = []
    for member in CORPORA.values():
        raw = inner.extractfile(member.replace("_GroundTruth", "_anonDataRatings")).read().decode("utf-8-sig")
        for line in raw.splitlines():
            fields = line.split("\t")
            if len(fields) >= 4:
                rows.append((float(fields[1]), json.loads(fields[3])))
    return rows


def main():
    rows = ratings(fetch_archive())
    print(f"{len(rows)} sentences\n|mean|      n   chose 0   mostly 0   2 SE from 0")
    for low, high in zip(EDGES[:-1], EDGES[1:]):
        group = [(m, r) for m, r in rows if low <= abs(m) < high]
        zero = statistics.mean(sum(x == 0 for x in r) / len(r) for _, r in group)
        mostly = statistics.mean(sum(x == 0 for x in r) > len(r) / 2 for _, r in group)
        sure = statistics.mean(abs(m) > 2 * statistics.stdev(r) / math.sqrt(len(r)) for m, r in group)
        print(f"{low:.2f}-{high:.2f} {len(group):6d} {zero:9.0%} {mostly:10.0%} {sure:13.0%}")


if __name__ == "__main__":
    main()
