"""The whole-review sets: read from the folder the user names, verified by SHA-256, deduplicated and split."""
import json
import pytest

from sentiment.corpora.labelled import DataError
from sentiment.corpora.reviews import ARCHIVES, prepare_reviews, review_files
from tests.helpers import ROOT

SHARED = ROOT.parent / "shared" / "data" / "reviews"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the review archives are not at {SHARED}")


def rows(folder, corpus, split):
    with open(folder / "reviews" / corpus / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    said = []
    counts = prepare_reviews(SHARED, data_dir=folder, report=said.append)
    return folder, counts, said


def test_every_set_is_split_as_documented_without_overlaps(prepared):
    folder, counts, _ = prepared
    assert counts["imdb/test.jsonl"] == 25000 and counts["imdb/train.jsonl"] + counts["imdb/dev.jsonl"] == 25000
    assert [counts[f"polarity/{s}.jsonl"] for s in ("train", "dev", "test")] == [1600, 200, 200]
    train, dev = rows(folder, "imdb", "train"), rows(folder, "imdb", "dev")
    assert not {r["film"] for r in train} & {r["film"] for r in dev}  # split by film
    assert 0.08 < len(dev) / 25000 < 0.12 and {r["label"] for r in dev} == {"negative", "positive"}
    assert all(r["id"].split("/")[2].startswith("cv9") for r in rows(folder, "polarity", "test"))
    assert all(r["id"].split("/")[2].startswith("cv8") for r in rows(folder, "polarity", "dev"))
    blitzer = [r for s in ("train", "dev", "test") for r in rows(folder, "blitzer", s)]
    texts = [" ".join(r["text"].split()) for r in blitzer]
    assert len(texts) == len(set(texts)) and 7800 < len(texts) < 8000  # exact repeats merged
    test_domains = {r["domain"] for r in rows(folder, "blitzer", "test")}
    assert test_domains == {"books", "dvd", "electronics", "kitchen_&_housewares"}
    scale = rows(folder, "scale", "test")
    assert all(-1 <= r["rating"] <= 1 for r in scale) and len(scale) > 400
    polarity_ids = {r["id"].rsplit("_", 1)[-1] for s in ("train", "dev", "test") for r in rows(folder, "polarity", s)}
    scale_all = [r for s in ("train", "dev", "test") for r in rows(folder, "scale", s)]
    assert len(scale_all) < 5006 and not {r["id"].rsplit("/", 1)[-1] for r in scale_all} & polarity_ids
    imdb_test = rows(folder, "imdb", "test")
    assert all(-1 <= r["rating"] <= 1 and (r["rating"] > 0) == (r["label"] == "positive") for r in imdb_test[:500])
    assert "<br />" not in imdb_test[0]["text"]
    assert review_files("train", data_dir=folder) == [str(folder / "reviews" / c / "train.jsonl") for c in ARCHIVES]


def test_a_second_run_reads_nothing_again(prepared, tmp_path):
    folder, counts, said = prepared
    again = []
    assert prepare_reviews(SHARED, data_dir=folder, report=again.append) == counts
    assert any("reading" in line for line in said) and not any("reading" in line for line in again)


def test_a_wrong_archive_is_named_and_missing_ones_say_where_to_get_them(tmp_path):
    name = ARCHIVES["polarity"][0]
    (tmp_path / name).write_bytes(b"not the archive")
    with pytest.raises(DataError, match=rf"{name}: SHA-256 .* does not match"):
        prepare_reviews(tmp_path, data_dir=tmp_path / "data")
    said = []
    assert prepare_reviews(tmp_path / "elsewhere", data_dir=tmp_path / "data", report=said.append) == {}
    assert "ai.stanford.edu/~amaas/data/sentiment" in said[0] and "imdb" in said[0]
