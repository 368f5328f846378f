"""Whole reviews with their authors' ratings, read from archives the user names, verified, deduplicated and split.

Four public sets, none on a package registry (README, "Reviews"; their authors' pages are in ORIGINS):
- imdb: Maas et al. 2011. Its own test split is test; train and val are pooled and split by film (the copy's
  val/ shares films with train/), 10% of the films to dev, so that no film's reviews sit on both sides.
- blitzer: Blitzer et al. 2007, Amazon reviews of four domains. Exact repeats are merged (one copy kept; a text
  rated both ways is dropped), then each domain is split 80/10/10 by a seeded shuffle, per label.
- polarity: Pang & Lee 2004 (v2.0). Its cross-validation folds: cv9xx is test, cv8xx dev, the rest train.
- scale: Pang & Lee 2005 (v1.0). Reviews also in polarity v2.0 (same id) are dropped, then a seeded 80/10/10.

Each split is data/reviews/<corpus>/<split>.jsonl: {"id", "text", "label", "rating" in [-1, 1], "source"}, and
imdb's train and dev rows their "film", blitzer's their "domain".
imdb stars 1-10 map to (stars - 5.5) / 4.5, Amazon stars to (stars - 3) / 2, scale's [0, 1] to 2 r - 1;
polarity has no rating, so its rating is null. Labels are positive or negative; scale's follow its 3-class file,
with its middle class as "neutral".
"""
import hashlib
import random
import re
import tarfile
from pathlib import Path

from .datasets import DATA_DIR, write_jsonl
from .labelled import check_sha256

ARCHIVES = {
    "imdb": ("imdb-aclImdb.tar.xz", "4af817fc5f90098820ac6009cc7f6a084d6dd7d763f67b92706bc532166ba74e"),
    "blitzer": ("blitzer-sorted_data_acl.tar.xz", "76b0ee45e2b5acb033c73d7ceba58e7d832841a84ee52e9bf49526189ab8a490"),
    "polarity": ("pang-lee-polarity-v2.0.tar.xz", "9ca80a23a2aaa30a3d15448aa1201c86a4b615432ee16a32c6ed0c5071c9f9af"),
    "scale": ("pang-lee-scaledata-v1.0.tar.xz", "908de92811a218004944263ba752c035ff730d12dbae80e83a39cee7b80b0732"),
}
ORIGINS = {"imdb": "https://ai.stanford.edu/~amaas/data/sentiment/",
           "blitzer": "https://www.cs.jhu.edu/~mdredze/datasets/sentiment/",
           "polarity": "https://www.cs.cornell.edu/people/pabo/movie-review-data/",
           "scale": "https://www.cs.cornell.edu/people/pabo/movie-review-data/"}
SPLITS = ("train", "dev", "test")
SEED = 20111
FORMAT = "reviews v2"


def review_files(split, corpora=tuple(ARCHIVES), data_dir=None):
    """Paths of one split of the prepared review corpora that exist, in corpus order."""
    root = Path(data_dir or DATA_DIR) / "reviews"
    return [str(root / c / f"{split}.jsonl") for c in corpora if (root / c / f"{split}.jsonl").exists()]


def verify(folder):
    """{corpus: archive path} of the archives present in folder, each checked against its recorded SHA-256.

    Raises DataError naming the first archive whose sum is wrong; a missing archive is simply left out.
    """
    found = {}
    for corpus, (name, expected) in ARCHIVES.items():
        path = Path(folder) / name
        if not path.exists():
            continue
        check_sha256(path, expected, f"a different or damaged copy of {corpus}; get it from {ORIGINS[corpus]}")
        found[corpus] = path
    return found


def prepare_reviews(folder, data_dir=DATA_DIR, force=False, report=lambda message: None):
    """Verify, read, deduplicate and split the archives in folder; returns {"<corpus>/<split>.jsonl": count}.

    Missing archives are reported with where to get them; a corpus already written from the same archive is
    kept as it is.
    """
    folder, out = Path(folder), Path(data_dir) / "reviews"
    found = verify(folder) if folder.is_dir() else {}
    missing = [c for c in ARCHIVES if c not in found]
    if missing:
        report(f"review archives missing from {folder}: " + ", ".join(f"{c} ({ARCHIVES[c][0]}, from {ORIGINS[c]})"
                                                                       for c in missing))
    counts = {}
    for corpus, path in found.items():
        stamp = out / corpus / "format.txt"
        wanted = f"{FORMAT} {ARCHIVES[corpus][1]}" + (" without polarity" if corpus == "scale" and "polarity" in found
                                                     else "")
        if force or not stamp.exists() or stamp.read_text().strip() != wanted:
            report(f"{corpus}: reading {path.name} ...")
            if corpus == "scale":  # never test on a review that polarity v2.0 trains on
                parts = read_scale(path, polarity_ids(found["polarity"]) if "polarity" in found else None)
            else:
                parts = READERS[corpus](path)
            (out / corpus).mkdir(parents=True, exist_ok=True)
            for split in SPLITS:
                write_jsonl(out / corpus / f"{split}.jsonl", parts[split])
            stamp.write_text(wanted + "\n")
        for split in SPLITS:
            with open(out / corpus / f"{split}.jsonl", encoding="utf-8") as f:
                counts[f"{corpus}/{split}.jsonl"] = sum(1 for _ in f)
        report(f"{corpus}: " + ", ".join(f"{s} {counts[f'{corpus}/{s}.jsonl']}" for s in SPLITS))
    return counts


def _members(path):
    """(name, bytes) of every regular file in a tar archive, in archive order."""
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile():
                yield member.name, archive.extractfile(member).read()


def _review(source, text, label, rating):
    return {"id": source, "text": text, "label": label, "rating": None if rating is None else round(rating, 4),
            "source": source}


def read_imdb(path):
    files, urls = {}, {}
    for name, data in _members(path):
        parts = name.split("/")
        if len(parts) == 4 and parts[1] in ("train", "val", "test") and parts[2] in ("pos", "neg") \
                and name.endswith(".txt"):
            files[name] = data.decode("utf-8")
        elif len(parts) == 3 and parts[1] == "train" and parts[2] in ("urls_pos.txt", "urls_neg.txt"):
            urls[parts[2][5:8]] = data.decode("utf-8").split("\n")
    parts = {split: [] for split in SPLITS}
    films = {}
    for name in sorted(files):
        _, split, polarity, base = name.split("/")
        number, stars = (int(x) for x in base[:-4].split("_"))
        text = files[name].replace("<br />", "\n").strip()
        review = _review(f"imdb/{split}/{polarity}/{number}", text, "positive" if polarity == "pos" else "negative",
                         (stars - 5.5) / 4.5)
        if split == "test":
            parts["test"].append(review)
        else:  # train and val are the published train split: line `number` of its urls file names the film
            review["film"] = urls[polarity][number].strip().split("/title/")[-1].split("/")[0]
            films.setdefault(review["film"], []).append(review)
    order = sorted(films)
    random.Random(SEED).shuffle(order)
    dev = set(order[:len(order) // 10])
    for film in sorted(films):
        parts["dev" if film in dev else "train"].extend(films[film])
    return parts


_TAG = re.compile(r"<(rating|review_text)>\s*(.*?)\s*</\1>", re.S)


def read_blitzer(path):
    rows = []
    for name, data in _members(path):
        parts = name.split("/")
        if len(parts) != 3 or parts[2] not in ("positive.review", "negative.review"):
            continue
        domain, label = parts[1], parts[2].split(".")[0]
        for k, block in enumerate(data.decode("latin-1").split("</review>")):
            fields = dict(_TAG.findall(block))
            if "review_text" in fields:
                rows.append((domain, label, k, fields["review_text"], float(fields.get("rating", "nan"))))
    labels_of = {}
    for domain, label, _, text, _ in rows:
        labels_of.setdefault(" ".join(text.split()), set()).add(label)
    seen, parts = set(), {split: [] for split in SPLITS}
    by_domain = {}
    for domain, label, k, text, stars in rows:
        key = " ".join(text.split())
        if key in seen or len(labels_of[key]) > 1:
            continue
        seen.add(key)
        review = _review(f"blitzer/{domain}/{label}/{k}", text, label, (stars - 3) / 2)
        review["domain"] = domain
        by_domain.setdefault(domain, []).append(review)
    for domain in sorted(by_domain):
        for split, part in _seeded_split(by_domain[domain]).items():
            parts[split].extend(part)
    return parts


def read_polarity(path):
    parts = {split: [] for split in SPLITS}
    for name, data in _members(path):
        base = name.rsplit("/", 1)[-1]
        if not (base.startswith("cv") and base.endswith(".txt")) or "/pos/" not in name and "/neg/" not in name:
            continue
        label = "positive" if "/pos/" in name else "negative"
        fold = int(base[2])
        split = "test" if fold == 9 else "dev" if fold == 8 else "train"
        parts[split].append(_review(f"polarity/{label[:3]}/{base[:-4]}", data.decode("latin-1").strip(), label, None))
    for split in parts:
        parts[split].sort(key=lambda r: r["id"])
    return parts


def polarity_ids(path):
    """The review ids (the number after 'cvNNN_') in polarity v2.0: scale v1.0 shares this numbering."""
    return {name.rsplit("_", 1)[-1][:-4] for name, _ in _members(path) if name.endswith(".txt")}


def read_scale(path, exclude=None):
    files = {}
    for name, data in _members(path):
        parts = name.split("/")
        if len(parts) == 3 and parts[2].endswith("." + parts[1]):  # scaledata/<critic>/<what>.<critic>
            files[(parts[1], parts[2][:-len(parts[1]) - 1])] = data.decode("latin-1")
    reviews = []
    for critic in sorted({c for c, _ in files}):
        column = {what: files[(critic, what)].splitlines() for what in ("id", "label.3class", "rating", "subj")}
        for rid, three, rating, text in zip(column["id"], column["label.3class"], column["rating"], column["subj"]):
            if exclude and rid.strip() in exclude:
                continue
            label = ("negative", "neutral", "positive")[int(three)]
            reviews.append(_review(f"scale/{critic}/{rid.strip()}", text.strip(), label, 2 * float(rating) - 1))
    return _seeded_split(reviews)


def _seeded_split(reviews, fractions=(0.8, 0.1, 0.1)):
    """80/10/10 per label, by a shuffle seeded with SEED and the reviews' ids (independent of file order)."""
    parts = {split: [] for split in SPLITS}
    for label in sorted({r["label"] for r in reviews}):
        group = sorted((r for r in reviews if r["label"] == label), key=lambda r: r["id"])
        random.Random(f"{SEED}:{hashlib.sha256(group[0]['id'].encode()).hexdigest()}").shuffle(group)
        train, dev = round(fractions[0] * len(group)), round(fractions[1] * len(group))
        parts["train"] += group[:train]
        parts["dev"] += group[train:train + dev]
        parts["test"] += group[train + dev:]
    return parts


READERS = {"imdb": read_imdb, "blitzer": read_blitzer, "polarity": read_polarity}
