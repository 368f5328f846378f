"""The encoder's tokenizer against the reference's, on every sentence of the four corpora.

    .venv-reference/bin/python bench/reference/encoder_reference.py ids      # the reference's ids (PyTorch venv)
    python -m bench.reference.encoder_port                                     # ours, compared

Ours: sentiment.text.wordpiece (BERT basic tokenization + WordPiece, gluonnlp's Cython code), with
@mentions and links kept so that both read the same text; the pieces of a text are the
concatenation of its words' pieces. The hidden states are compared in tests/test_encoder.py.
"""
import json
import time
from pathlib import Path

from sentiment.corpora.pretrained import prepare_encoder
from sentiment.text.wordpiece import WordPieceTokenizer

ROOT = Path(__file__).resolve().parents[2]
IDS = ROOT / "bench" / "results" / "minilm_reference_ids.json"


def main():
    folder = prepare_encoder()
    tokenizer = WordPieceTokenizer(str(folder / "vocab.txt"), max_len=10_000, max_pieces=10_000, drop_mentions=False)
    reference = json.loads(IDS.read_text())
    cls, sep = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    total, differ, started = 0, [], time.perf_counter()
    for name, id_lists in reference.items():
        with open(ROOT / "data" / name, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f]
        for text, ids in zip(texts, id_lists):
            ours = [cls, *(p for w in tokenizer.split(text) for p in tokenizer.pieces(w)), sep]
            total += 1
            if ours != ids:
                differ.append((name, text))
    seconds = time.perf_counter() - started
    print(f"{total} sentences: {total - len(differ)} with the reference's ids, {len(differ)} without "
          f"({total / seconds:,.0f} sentences/s here, words grouped and pieces looked up)")
    for name, text in differ[:10]:
        print(f"  differs: {name}: {text[:80]!r}")


if __name__ == "__main__":
    main()
