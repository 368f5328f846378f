"""Property tests: arbitrary Unicode never crashes the tokenizer, the readers or the scorer,
and every input record yields exactly one output or error record."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment.corpora.readers import iter_records
from sentiment.scoring.job import read_items, score_window
from sentiment.scoring.writer import Writer
from sentiment.text.tokenizer import Tokenizer

# Every code point, surrogates, controls, combining marks, emoji, CJK and right-to-left scripts included.
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)
SAMPLES = st.sampled_from(["😀👍🏽", "電影很好看", "הסרט היה נהדר", "فيلم رائع", "e\u0301\u0301", "\x00\x07\x1b", "\ud800",
                           "\u202e\u200d\ufeff", "ﬁlm ＦＵＬＬ", "don't", "''", " \t\r\n"])
TEXT = st.lists(st.one_of(ANY_TEXT, SAMPLES), max_size=5).map("".join)


@given(TEXT, st.integers(min_value=1, max_value=80))
@settings(max_examples=400, deadline=None)
def test_tokenizer_never_crashes_and_is_deterministic(text, max_len):
    tokenizer = Tokenizer(max_len=max_len)
    tokens, truncated = tokenizer(text)
    assert (tokens, truncated) == Tokenizer(max_len=max_len)(text)
    assert len(tokens) <= max_len and truncated == (len(tokenizer.split(text)) > max_len)
    for token in tokens:
        assert token and not any(c.isspace() for c in token)
        token.encode("utf-8")  # never a lone surrogate: answers are always valid UTF-8


@given(st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b), max_size=30))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_jsonl_and_txt_line_yields_one_record(tmp_path, lines):
    for suffix in (".jsonl", ".txt"):
        path = tmp_path / f"in{suffix}"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        records = list(iter_records(path))
        expected = [i + 1 for i, line in enumerate(lines) if suffix == ".txt" or line.strip()]
        if suffix == ".jsonl":  # blank lines are not records; lines with only non-UTF-8 bytes still are
            expected = [i + 1 for i, line in enumerate(lines) if not _blank(line)]
        assert [r.line for r in records] == expected


def _blank(line):
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


@given(st.lists(TEXT, min_size=1, max_size=12))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_scorer_gives_one_output_per_record_for_any_text(small_bundle, tmp_path, texts):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    items = list(read_items([str(path)], "text", None, None))
    outputs = score_window(str(small_bundle), "cpu", items, attention=True, top_pairs=2)
    assert [o["line"] for o in outputs] == list(range(1, len(texts) + 1))
    for text, output in zip(texts, outputs):
        assert ("error" in output) == (not Tokenizer().split(text)), output
    writer = Writer(tmp_path / "out.jsonl", "jsonl", ["negative", "positive"], resume=False)
    writer.write(outputs)
    writer.finish()
    written = (tmp_path / "out.jsonl").read_bytes().decode("utf-8").splitlines()
    assert [json.loads(line)["line"] for line in written] == [o["line"] for o in outputs]


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_a_text_the_api_schema_accepts_always_has_a_token(text):
    """The OpenAPI text pattern and the tokenizer agree, so a schema-valid text is never answered 422."""
    import re

    from service.openapi import _TEXT

    if re.search(_TEXT["pattern"], text) and all(ord(c) < 0x10000 for c in text):
        assert Tokenizer().split(text)
