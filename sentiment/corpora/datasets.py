"""Real review data and labelled datasets.

`prepare()` fetches the vaderSentiment 3.3.2 source archive from PyPI, checks it against
the SHA-256 recorded in data/, labels the human-rated sentences of its four corpora
negative / neutral / positive by their mean rating (neutral within NEUTRAL_BAND of 0) and writes
a deterministic split per corpus, data/<corpus>/{train,dev,test}.jsonl, plus the VADER lexicon
as data/lexicon.tsv.
Labelled files of any origin are read by sentiment.corpora.labelled.
"""
import collections
import io
import json
import random
import subprocess
import sys
import tarfile
from pathlib import Path

from .labelled import DataError, check_sha256

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
ARCHIVE = "vaderSentiment-3.3.2.tar.gz"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
LEXICON = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"
# Four human-rated corpora, each sentence rated -4..+4 by 20 people (Hutto & Gilbert, ICWSM 2014).
CORPORA = {
    "movie": "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",   # Pang & Lee's rt-polarity snippets
    "amazon": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",  # Hu & Liu's customer reviews
    "nyt": "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",     # NYT editorial sentences
    "tweets": "hutto_ICWSM_2014/tweets_GroundTruth.txt",
}
SPLIT_SEED = 20180514  # the movie split is the one every earlier figure used
# Repeated sentences are merged (mean of their ratings) so none sits in two splits. The movie corpus
# is split as first published instead: its 2 repeats fall in the same split, and its figures compare.
AS_PUBLISHED = {"movie"}
# Corpora whose sentence ids ("12_3") give whole documents: split by document, so that no document's
# sentences sit in two splits, and written whole to data/documents/<corpus>/<split>.jsonl as well.
BY_DOCUMENT = ("amazon", "nyt")
SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}
# A mean rating within this distance of 0 is neutral. Below 0.5, most raters chose 0 (data/README.md).
NEUTRAL_BAND = 0.5
LABELS = ("negative", "neutral", "positive")
OUTPUTS = (tuple(f"{corpus}/{split}.jsonl" for corpus in CORPORA for split in SPLITS)
           + tuple(f"documents/{corpus}/{split}.jsonl" for corpus in BY_DOCUMENT for split in SPLITS) + ("lexicon.tsv",))
# Written last by `prepare`; data written by an older layout (labels by sign only) is rebuilt.
FORMAT_FILE, DATA_FORMAT = "format.txt", "3-way rating, amazon and nyt by document v1"


def split_files(split, corpora=CORPORA, data_dir=None):
    """Paths of one split ('train', 'dev' or 'test') of the given corpora, in corpus order."""
    return [str(Path(data_dir or DATA_DIR) / corpus / f"{split}.jsonl") for corpus in corpora]


def document_files(split, corpora=BY_DOCUMENT, data_dir=None):
    """Paths of one split of the whole documents (Amazon reviews, NYT editorial excerpts)."""
    return [str(Path(data_dir or DATA_DIR) / "documents" / corpus / f"{split}.jsonl") for corpus in corpora]


def fetch_archive(data_dir=DATA_DIR):
    """Download the sdist with pip (cached under data/cache) and verify its SHA-256."""
    cache = Path(data_dir) / "cache"
    archive = cache / ARCHIVE
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               "vaderSentiment==3.3.2", "--dest", str(cache)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise DataError(f"pip download of vaderSentiment==3.3.2 failed:\n{result.stderr.strip()}")
    expected = (DATA_DIR / f"{ARCHIVE}.sha256").read_text().split()[0]
    check_sha256(archive, expected)
    return archive


def read_rated_sentences(archive, member):
    """(id, text, mean rating) of one ground-truth file inside the nested archive.

    Amazon's and NYT's ids are "review_sentence" ("12_3"), so they also give whole documents.
    """
    with tarfile.open(archive) as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = inner.extractfile(member).read().decode("utf-8")
    rows = []
    for line in raw.splitlines():
        if line.strip():
            sentence_id, rating, text = line.split("\t", 2)
            rows.append((sentence_id.strip().lstrip("\ufeff"), text.strip(), float(rating)))
    return rows


def merge_repeats(rows):
    """(id, text, rating) rows with each repeated text once, at the mean of its ratings and the id it
    first had, in first-seen order."""
    ratings, first_id = collections.defaultdict(list), {}
    for sentence_id, text, rating in rows:
        ratings[text].append(rating)
        first_id.setdefault(text, sentence_id)
    return [(first_id[text], text, sum(values) / len(values)) for text, values in ratings.items()]


def document_sentences(rows):
    """[(document id, [(sentence number, text, rating), ...])] from (id, text, rating) rows whose ids are
    "document_sentence" (Amazon, NYT), documents in first-seen order and sentences in their order."""
    documents = collections.defaultdict(list)
    for sentence_id, text, rating in rows:
        document, _, number = sentence_id.partition("_")
        documents[document].append((int(number), text, rating))
    return [(document, sorted(sentences)) for document, sentences in documents.items()]


def read_lexicon_archive(archive):
    """{word: mean rating / 4} from VADER's lexicon (7,500 words and emoticons rated -4..+4)."""
    with tarfile.open(archive) as outer:
        raw = outer.extractfile(LEXICON).read().decode("utf-8")
    lexicon = {}
    for line in raw.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].strip():
            lexicon[fields[0].strip()] = round(float(fields[1]) / 4, 4)
    return lexicon


def read_lexicon(data_dir=DATA_DIR):
    """{word: valence in [-1, 1]} from data/lexicon.tsv (written by `prepare`)."""
    path = Path(data_dir) / "lexicon.tsv"
    if not path.exists():
        prepare(data_dir)
    with open(path, encoding="utf-8") as f:
        return {word: float(value) for word, value in (line.rstrip("\n").split("\t") for line in f)}


def label_for(rating, band=NEUTRAL_BAND):
    """'negative', 'neutral' or 'positive' for a mean rating on -4..+4: neutral when |rating| < band."""
    return "neutral" if abs(rating) < band else ("positive" if rating > 0 else "negative")


def split_by_document(rows, merged):
    """({split: [merged rows]}, {split: [document records]}) for a corpus whose ids name documents.

    Documents are split 80 / 10 / 10, stratified by their label: the mean of their sentences'
    ratings, in the same neutral band as a sentence. A merged repeated sentence goes with the
    document it first appeared in. A document record: {"id", "text" (its sentences joined by a
    space), "rating", "label", "sentences": [{"text", "rating"}]}.
    """
    documents = []
    for document, sentences in document_sentences(rows):
        rating = sum(r for _, _, r in sentences) / len(sentences)
        documents.append({"id": document, "text": " ".join(t for _, t, _ in sentences), "rating": rating,
                          "label": label_for(rating), "sentences": [{"text": t, "rating": r} for _, t, r in sentences]})
    parts = stratified_split(documents)
    split_of = {d["id"]: name for name, part in parts.items() for d in part}
    sentences = {name: [] for name in parts}
    for row in merged:
        sentences[split_of[row[0].partition("_")[0]]].append(row)
    return sentences, parts


def labelled_rows(rows, band=NEUTRAL_BAND):
    """{"text", "label", "rating", "id"} examples for (id, text, rating) rows; rating as published."""
    return [{"text": text, "label": label_for(rating, band), "rating": rating, "id": sentence_id}
            for sentence_id, text, rating in rows]


def split_rows(rows):
    """The split of (id, text, rating) rows into {split: [rows]}, stable across the labelling changes.

    Sentences with a non-zero mean are split as they always were: stratified by the sign of the
    mean, with SPLIT_SEED. Those rated exactly 0 (left out when labels were signs) are split by the
    same seeded rule among themselves and added, so every earlier figure still compares.
    """
    signed = [{"row": row, "label": "positive" if row[2] > 0 else "negative"} for row in rows if row[2] != 0]
    zeros = [{"row": row, "label": "zero"} for row in rows if row[2] == 0]
    parts = stratified_split(signed)
    for name, extra in stratified_split(zeros).items():
        parts[name].extend(extra)
    return {name: [example["row"] for example in part] for name, part in parts.items()}


def stratified_split(examples, fractions=SPLITS, seed=SPLIT_SEED):
    """Deterministic per-label shuffle, then cut each label's list by the fractions."""
    rng = random.Random(seed)
    parts = {name: [] for name in fractions}
    for label in sorted({e["label"] for e in examples}):
        group = [e for e in examples if e["label"] == label]
        rng.shuffle(group)
        start = 0
        names = list(fractions)
        for i, name in enumerate(names):
            end = len(group) if i == len(names) - 1 else start + round(fractions[name] * len(group))
            parts[name].extend(group[start:end])
            start = end
    for name in parts:
        rng.shuffle(parts[name])
    return parts


def write_jsonl(path, examples):
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for example in examples:
            f.write(json.dumps(example, ensure_ascii=False) + "\n")
    tmp.replace(path)


def prepare(data_dir=DATA_DIR, force=False, report=lambda message: None):
    """Fetch, verify, label and split; returns {file name: record count}. Idempotent."""
    data_dir = Path(data_dir)
    current = (data_dir / FORMAT_FILE).exists() and (data_dir / FORMAT_FILE).read_text().strip() == DATA_FORMAT
    if not force and current and all((data_dir / name).exists() for name in OUTPUTS):
        return {name: sum(1 for _ in open(data_dir / name, encoding="utf-8")) for name in OUTPUTS}
    report("fetching vaderSentiment==3.3.2 (the rated review corpora and the VADER lexicon) from PyPI ...")
    archive = fetch_archive(data_dir)
    report(f"verified {archive.name} (SHA-256 as recorded in data/)")
    counts = {}
    for corpus, member in CORPORA.items():
        (data_dir / corpus).mkdir(parents=True, exist_ok=True)
        rows = read_rated_sentences(archive, member)
        merged = rows if corpus in AS_PUBLISHED else merge_repeats(rows)
        if corpus in BY_DOCUMENT:
            parts, documents = split_by_document(rows, merged)
            (data_dir / "documents" / corpus).mkdir(parents=True, exist_ok=True)
            for split, part in documents.items():
                write_jsonl(data_dir / "documents" / corpus / f"{split}.jsonl", part)
                counts[f"documents/{corpus}/{split}.jsonl"] = len(part)
        else:
            parts = split_rows(merged)
        for split, part in parts.items():
            examples = labelled_rows(part)
            write_jsonl(data_dir / corpus / f"{split}.jsonl", examples)
            counts[f"{corpus}/{split}.jsonl"] = len(examples)
        report(f"{corpus}: " + ", ".join(f"{s} {counts[f'{corpus}/{s}.jsonl']}" for s in SPLITS))
    lexicon = read_lexicon_archive(archive)
    tmp = data_dir / "lexicon.tsv.tmp"
    tmp.write_text("".join(f"{word}\t{value}\n" for word, value in sorted(lexicon.items())), encoding="utf-8")
    tmp.replace(data_dir / "lexicon.tsv")
    counts["lexicon.tsv"] = len(lexicon)
    (data_dir / FORMAT_FILE).write_text(DATA_FORMAT + "\n")
    report(f"lexicon: {len(lexicon)} words; data written under {data_dir}")
    return counts
