import gzip

import pytest

from sentiment.corpora.labelled import DataError, load_labelled
from sentiment.corpora.readers import Record, iter_records


def records(path, **kwargs):
    return [(type(r).__name__, r.line, r.text if isinstance(r, Record) else r.reason) for r in
            iter_records(path, **kwargs)]


def test_csv_reports_each_bad_row_with_its_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b'text,label\n"good, fine",pos\n"broken "quote,neg\n\xff\xfe,neg\n"two\nlines",pos\n'
                     b'one column\n,pos\n')
    got = records(path, keep_fields=("label",))
    assert got == [("Record", 2, "good, fine"), ("BadRecord", 3, "broken CSV quoting: ',' expected after '\"'"),
                   ("BadRecord", 4, "invalid UTF-8 at byte 0"), ("Record", 5, "two\nlines"),
                   ("BadRecord", 7, "expected 2 columns, got 1"), ("Record", 8, "")]


def test_jsonl_tsv_txt_and_gzip(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "label": 1}\n\n[1]\n{"text": 5, "label": 1}\n{bad\n')
    assert [r[0] for r in records(tmp_path / "a.jsonl", keep_fields=("label",))] == [
        "Record", "BadRecord", "BadRecord", "BadRecord"]
    with gzip.open(tmp_path / "b.tsv.gz", "wt") as f:
        f.write("label\ttext\nneg\tso bad\n")
    (rec,) = iter_records(tmp_path / "b.tsv.gz", keep_fields=("label",))
    assert isinstance(rec, Record) and rec.text == "so bad" and rec.fields == {"label": "neg"}
    (tmp_path / "c.txt").write_text("first\n\nthird\n")
    assert [(r.line, r.text) for r in iter_records(tmp_path / "c.txt")] == [(1, "first"), (2, ""), (3, "third")]


def test_missing_header_column_is_an_error(tmp_path):
    (tmp_path / "x.csv").write_text("body,label\nhi,pos\n")
    with pytest.raises(ValueError, match="no column 'text'"):
        list(iter_records(tmp_path / "x.csv", keep_fields=("label",)))


def test_load_labelled_reports_unknown_labels_and_strict_mode(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "good", "label": "pos"}\n{"text": "meh", "label": "neutral"}\n'
                    '{"text": "  ", "label": "neg"}\n{"text": "bad", "label": 0}\n')
    reports = []
    texts, labels, bad = load_labelled(path, labels={"pos", "neg", "0"}, report=reports.append)[:3]
    assert texts == ["good", "bad"] and labels == ["pos", "0"]
    assert [b.line for b in bad] == [2, 3] and "unknown label 'neutral'" in reports[0] and f"{path}:2" in reports[0]
    with pytest.raises(DataError, match=r"d.jsonl:2: unknown label"):
        load_labelled(path, labels={"pos", "neg", "0"}, strict=True)


@pytest.mark.parametrize("name, content", [
    ("d.jsonl", '{"text": "good", "label": "pos", "confidence": 0.75}\n{"text": "fine", "label": "pos"}\n'
                '{"text": "bad", "label": "neg", "confidence": 1.5}\n{"text": "meh", "label": "neg", "confidence": true}\n'
                '{"text": "awful", "label": "neg", "confidence": 1}\n'),
    ("d.csv", "text,label,confidence\ngood,pos,0.75\nfine,pos,\nbad,neg,1.5\nmeh,neg,high\nawful,neg,1\n"),
])
def test_confidences_are_optional_and_checked(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    reports = []
    data = load_labelled(path, report=reports.append, confidence_field="confidence")
    assert data.texts == ["good", "fine", "awful"] and data.confidences == [0.75, 1.0, 1.0]
    assert [b.line for b in data.bad] == ([4, 5] if name.endswith("csv") else [3, 4])
    assert "'confidence' must be a number in (0, 1], got" in reports[0] and "1.5" in reports[0]
    assert load_labelled(path, report=reports.append).confidences == [1.0] * 5  # not asked for: ignored


def test_ratings_are_optional_numbers(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "good", "label": "pos", "rating": 2.5}\n{"text": "fine", "label": "pos"}\n'
                    '{"text": "bad", "label": "neg", "rating": "low"}\n{"text": "awful", "label": "neg", "rating": -3}\n')
    reports = []
    data = load_labelled(path, report=reports.append, rating_field="rating")
    assert data.texts == ["good", "fine", "awful"] and data.ratings == [2.5, None, -3.0]
    assert "'rating' must be a number, got 'low'" in reports[0]
    assert load_labelled(path, report=reports.append).ratings == [None] * 4  # not asked for: ignored
