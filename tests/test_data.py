import io
import json
import tarfile

from sentiment.corpora import datasets as data


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


def test_labels_three_ways_by_the_mean_rating_and_keeps_zeros(tmp_path):
    nested_archive(tmp_path / "a.tar.gz", ["1\t2.5\tgreat fun", "2\t-0.1\tslightly off", "3\t0\tit exists",
                                           "4\t-0.5\tnot great"])
    rows = data.read_rated_sentences(tmp_path / "a.tar.gz", data.CORPORA["movie"])
    assert rows == [("1", "great fun", 2.5), ("2", "slightly off", -0.1), ("3", "it exists", 0.0),
                    ("4", "not great", -0.5)]
    assert [row["label"] for row in data.labelled_rows(rows)] == ["positive", "neutral", "neutral", "negative"]
    assert data.labelled_rows(rows)[0] == {"text": "great fun", "label": "positive", "rating": 2.5, "id": "1"}
    assert [data.label_for(r, band=0.1) for r in (0.1, 0.09, -0.1)] == ["positive", "neutral", "negative"]


def test_zeros_join_the_split_without_moving_any_signed_sentence():
    rows = [(str(i), f"t{i}", (-1) ** i * (i % 7) / 2) for i in range(500)]
    signed = [{"row": row, "label": "positive" if row[2] > 0 else "negative"} for row in rows if row[2] != 0]
    before = {name: [e["row"] for e in part] for name, part in data.stratified_split(signed).items()}
    after = data.split_rows(rows)
    for name in data.SPLITS:
        assert [row for row in after[name] if row[2] != 0] == before[name]
    zeros = [row for row in rows if row[2] == 0]
    assert sorted(row for part in after.values() for row in part if row[2] == 0) == sorted(zeros)
    assert 0 < sum(row[2] == 0 for row in after["test"]) < len(zeros)


def test_prepare_writes_a_split_per_corpus_and_the_lexicon(tmp_path, monkeypatch):
    archive = tmp_path / "cache" / data.ARCHIVE
    archive.parent.mkdir()
    nested_archive(archive, [f"{i}\t{(-1) ** i * 1.5}\tsentence {i}" for i in range(40)])
    monkeypatch.setattr(data, "fetch_archive", lambda data_dir: archive)
    messages = []
    counts = data.prepare(tmp_path, report=messages.append)
    assert counts["movie/train.jsonl"] == 32 and counts["movie/dev.jsonl"] == 4 and counts["movie/test.jsonl"] == 4
    assert counts["tweets/train.jsonl"] + counts["tweets/dev.jsonl"] + counts["tweets/test.jsonl"] == 2
    first = json.loads((tmp_path / "movie" / "train.jsonl").read_text().splitlines()[0])
    assert set(first) == {"text", "label", "rating", "id"} and first["label"] in data.LABELS
    assert (tmp_path / data.FORMAT_FILE).read_text().strip() == data.DATA_FORMAT
    assert data.read_lexicon(tmp_path) == {"fine": 0.2, "broke": -0.5}
    assert any("verified" in m for m in messages) and any(m.startswith("movie: train 32") for m in messages)
    assert data.split_files("dev", ["nyt"], tmp_path) == [str(tmp_path / "nyt" / "dev.jsonl")]


def test_repeated_sentences_are_merged_at_their_mean_rating():
    rows = [("1", "a", 1.0), ("2", "b", -2.0), ("3", "a", -0.5), ("4", "c", 0.5), ("5", "b", -1.0)]
    assert data.merge_repeats(rows) == [("1", "a", 0.25), ("2", "b", -1.5), ("4", "c", 0.5)]


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
    # The movie split is the one every earlier figure used, plus its 37 sentences rated exactly 0.
    assert [counts[f"movie/{s}.jsonl"] for s in data.SPLITS] == [8485, 1061, 1059]
    totals = {c: sum(counts[f"{c}/{s}.jsonl"] for s in data.SPLITS) for c in data.CORPORA}
    assert totals["movie"] == 10605 and totals["tweets"] == 4200
    assert 3690 < totals["amazon"] < 3708 and 5100 < totals["nyt"] < 5190  # repeated sentences merged
    assert counts["lexicon.tsv"] > 7000 and data.read_lexicon()["good"] > 0 > data.read_lexicon()["bad"]
    for corpus in data.CORPORA:
        train = [json.loads(line) for line in open(data.DATA_DIR / corpus / "train.jsonl", encoding="utf-8")]
        test = {json.loads(line)["text"] for line in open(data.DATA_DIR / corpus / "test.jsonl", encoding="utf-8")}
        assert {row["label"] for row in train} == set(data.LABELS)
        assert all(row["label"] == data.label_for(row["rating"]) and -4 <= row["rating"] <= 4 for row in train)
        assert not test & {row["text"] for row in train}
