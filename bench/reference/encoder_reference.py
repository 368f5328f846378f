"""The reference implementation of the encoder (PyTorch + transformers), in its own venv: never the product.

    python3 -m venv .venv-reference && .venv-reference/bin/pip install -r bench/requirements-reference.txt
    .venv-reference/bin/python bench/reference/encoder_reference.py fixture    # tests/fixtures/minilm_reference.npz
    .venv-reference/bin/python bench/reference/encoder_reference.py ids        # bench/results/minilm_reference_ids.json
    .venv-reference/bin/python bench/reference/encoder_reference.py speed      # the encoder alone, sentences/s (JSON)
    .venv-reference/bin/python bench/reference/encoder_reference.py finetune   # the reference classifier's test figures

`fixture` writes the reference's piece ids and last hidden states for the sentences below (written
for this project), which tests/test_encoder.py compares the Gluon port against without PyTorch.
`ids` writes the reference tokenizer's ids for every sentence of the four corpora, which
`python -m bench.reference.encoder_port` compares with ours. `speed` is read by `python -m bench.speed.model`.
`finetune` trains the plainest classifier on the encoder (states mean-pooled, a linear head, three
ways, AdamW) on the project's splits and prints its test figures as bench.quality.accuracy defines them: what
the product's recipe is measured against.
It reads only data/ (python -m sentiment data), offline: the encoder from data/minilm/, and the
splits for `finetune`.
"""
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import BertModel, BertTokenizerFast  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "data" / "minilm"
CORPORA = ("movie", "amazon", "nyt", "tweets")  # sentiment.corpora.datasets.CORPORA: this venv lacks the product's packages
SENTENCES = [
    "The battery lasts all day.", "I wouldn't buy it again.", "Not bad at all!", "What a waste of money :(",
    "The soup was cold, but the staff were lovely.", "It's fine, I guess.", "Absolutely brilliant film.",
    "The package arrived on Tuesday.", "Since then it has run every morning without me touching it.",
    "If it broke tomorrow I would buy the same one again.", "Naïve café owners serve crème brûlée.",
    "Soooo goooood!!!", "Worst. Purchase. Ever.", "The screen is bright; the speakers are tinny.",
    "He didn't hate it, he just didn't care.", "Don't waste your time on this one.", "10/10 would recommend <3",
    "The plot twists at 1:45 were predictable.", "An hour in, I was asleep.", "Customer service never called back.",
    "Although the start is slow, the ending is superb.", "It does what it says on the box.",
    "Meh.", "The hotel's pool was closed for repairs, which nobody told us.", "I can't recommend it enough.",
    "Three stars: decent, not great.", "The sequel is louder, longer and somehow emptier.",
    "Our waiter, Marco, was attentive and funny.", "Setup took five minutes and it just works.",
    "The colour is more orange than red in person.", "Returned it after a week.",
    "I've had it for two years with no problems whatsoever.", "A gripping, beautifully shot thriller.",
    "Nothing about this phone feels cheap.", "The keyboard's keys stick when it's humid.",
    "zzqx flurbo quonk.",
]


def load():
    tokenizer = BertTokenizerFast(vocab_file=str(MODEL_DIR / "vocab.txt"), tokenizer_file=str(MODEL_DIR / "tokenizer.json"),
                                  do_lower_case=True)
    model = BertModel.from_pretrained(str(MODEL_DIR), add_pooling_layer=False).eval()
    return tokenizer, model


def fixture(out=ROOT / "tests" / "fixtures" / "minilm_reference.npz"):
    tokenizer, model = load()
    ids, states = [], []
    with torch.no_grad():
        for sentence in SENTENCES:
            encoded = tokenizer(sentence, return_tensors="pt")
            ids.append(encoded["input_ids"][0].numpy())
            states.append(model(**encoded).last_hidden_state[0].numpy())
    lengths = np.array([len(i) for i in ids])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, sentences=np.array(SENTENCES), lengths=lengths, ids=np.concatenate(ids).astype(np.int32),
                        states=np.concatenate(states).astype(np.float32), torch=np.array(torch.__version__))
    print(f"wrote {out}: {len(SENTENCES)} sentences, {lengths.sum()} pieces")


def reference_ids(out=ROOT / "bench" / "results" / "minilm_reference_ids.json"):
    tokenizer, _ = load()
    result = {}
    for path in sorted((ROOT / "data").glob("*/*.jsonl")):
        if path.parent.name in ("documents", "minilm", "cache"):
            continue
        texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
        result[f"{path.parent.name}/{path.name}"] = [tokenizer(t)["input_ids"] for t in texts]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result))
    print(f"wrote {out}: {sum(map(len, result.values()))} sentences")


def speed(rounds=5, sentences=256, threads=2):
    """Sentences/s of the bare encoder at batch 1 and 32 on test sentences of 18-22 pieces (median of rounds)."""
    torch.set_num_threads(threads)
    tokenizer, model = load()
    texts = [json.loads(line)["text"] for corpus in CORPORA
             for line in open(ROOT / "data" / corpus / "test.jsonl", encoding="utf-8")]
    texts = [t for t in texts if 18 <= len(tokenizer(t)["input_ids"]) <= 22][:sentences]
    result = {"torch": torch.__version__, "threads": threads, "sentences": len(texts)}
    with torch.no_grad():
        for batch in (1, 32):
            chunks = [tokenizer(texts[i:i + batch], padding=True, return_tensors="pt")
                      for i in range(0, len(texts), batch)]
            model(**chunks[0])
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                for chunk in chunks:
                    model(**chunk)
                times.append(time.perf_counter() - started)
            result[f"batch_{batch}"] = round(len(texts) / float(np.median(times)), 1)
    print(json.dumps(result))


LABELS = ("negative", "neutral", "positive")


def read_split(split):
    return {corpus: [json.loads(line) for line in open(ROOT / "data" / corpus / f"{split}.jsonl", encoding="utf-8")]
            for corpus in CORPORA}


def macro_f1(true, predicted, classes=3):
    scores = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (true == c))
        precision = tp / max(np.sum(predicted == c), 1)
        recall = tp / max(np.sum(true == c), 1)
        scores.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def adamw_with_warmup(parameters, lr, steps, warmup):
    """AdamW (weight decay 0.01), its rate rising linearly over the first `warmup` of the steps, then falling to 0."""
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / (warmup * steps), max(0.0, (steps - step) / ((1 - warmup) * steps))))
    return optimiser, schedule


def train_step(loss, parameters, optimiser, schedule):
    """One update: gradients clipped to norm 1."""
    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimiser.step()
    schedule.step()


def finetune(epochs=3, batch=32, lr=5e-5, warmup=0.1, max_pieces=64, seed=0, threads=2):
    """Mean-pooled states (the padding masked), a linear head, cross-entropy over three labels; AdamW with
    linear warm-up and decay. Prints per test corpus polar accuracy, three-way macro-F1 and score r."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    tokenizer, encoder = load()
    head = torch.nn.Linear(encoder.config.hidden_size, len(LABELS))
    train = [row for rows in read_split("train").values() for row in rows]
    parameters = list(encoder.parameters()) + list(head.parameters())
    optimiser, schedule = adamw_with_warmup(parameters, lr, epochs * -(-len(train) // batch), warmup)

    def logits(texts):
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_pieces, return_tensors="pt")
        states = encoder(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        return head((states * mask).sum(1) / mask.sum(1))

    rng = np.random.RandomState(seed)
    started = time.time()
    for epoch in range(epochs):
        encoder.train()
        order = rng.permutation(len(train))
        for start in range(0, len(order), batch):
            rows = [train[i] for i in order[start:start + batch]]
            loss = torch.nn.functional.cross_entropy(logits([r["text"] for r in rows]),
                                                     torch.tensor([LABELS.index(r["label"]) for r in rows]))
            train_step(loss, parameters, optimiser, schedule)
        print(f"epoch {epoch + 1}: {time.time() - started:.0f} s", flush=True)
    encoder.eval()
    result = {"seconds": round(time.time() - started), "epochs": epochs, "test": {}}
    with torch.no_grad():
        for corpus, rows in read_split("test").items():
            p = torch.cat([torch.softmax(logits([r["text"] for r in rows[i:i + 64]]), -1)
                           for i in range(0, len(rows), 64)]).numpy()
            true = np.array([LABELS.index(r["label"]) for r in rows])
            rating = np.array([r["rating"] for r in rows])
            polar = rating != 0
            result["test"][corpus] = {
                "polar": round(float(np.mean((p[polar, 2] >= p[polar, 0]) == (rating[polar] > 0))), 4),
                "macro_f1": round(macro_f1(true, p.argmax(1)), 4),
                "score_r": round(float(np.corrcoef(p[:, 2] - p[:, 0], rating)[0, 1]), 4)}
    result["mean_macro_f1"] = round(float(np.mean([c["macro_f1"] for c in result["test"].values()])), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    commands = {"fixture": fixture, "ids": reference_ids, "speed": speed, "finetune": finetune}
    commands[sys.argv[1] if len(sys.argv) > 1 else "fixture"]()
