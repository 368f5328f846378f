"""A plain fine-tune of the same MiniLM for target polarity, reading "sentence [SEP] target" as BERT-SPC does.

Bench-only, in the reference venv (bench/reference/encoder_reference.py says how to make it):

    .venv-reference/bin/python bench/reference/aspects_reference.py   # bench/results/aspects_reference.json

One model per set (restaurants, laptops, tweets), as the papers train them: the [CLS] state, a linear head, AdamW
with linear warm-up and decay. The epoch is chosen on each set's dev split; its test accuracy and macro-F1 are
written. It reads data/absa (python -m sentiment data --absa DIR) and the encoder in data/minilm, offline.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_reference import ROOT, adamw_with_warmup, load, macro_f1, train_step  # noqa: E402

LABELS = ("negative", "neutral", "positive")
SETS = ("restaurants", "laptops", "tweets")


def read(name, split):
    """One example per target: (sentence, target, label index)."""
    rows = []
    for line in open(ROOT / "data" / "absa" / name / f"{split}.jsonl", encoding="utf-8"):
        sentence = json.loads(line)
        rows += [(sentence["text"], t["target"], LABELS.index(t["label"])) for t in sentence["targets"]]
    return rows


def finetune(name, epochs=3, batch=16, lr=5e-5, warmup=0.1, seed=0, threads=2):
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    tokenizer, encoder = load()
    head = torch.nn.Linear(encoder.config.hidden_size, len(LABELS))
    train, dev, test = (read(name, split) for split in ("train", "dev", "test"))
    parameters = list(encoder.parameters()) + list(head.parameters())
    optimiser, schedule = adamw_with_warmup(parameters, lr, epochs * -(-len(train) // batch), warmup)

    def logits(rows):
        encoded = tokenizer([r[0] for r in rows], [r[1] for r in rows], padding=True, truncation=True,
                            max_length=128, return_tensors="pt")
        return head(encoder(**encoded).last_hidden_state[:, 0])

    def figures(rows):
        encoder.eval()
        with torch.no_grad():
            predicted = torch.cat([logits(rows[i:i + 64]).argmax(-1) for i in range(0, len(rows), 64)]).numpy()
        encoder.train()
        true = np.array([r[2] for r in rows])
        return {"accuracy": round(float(np.mean(predicted == true)), 4),
                "macro_f1": round(macro_f1(true, predicted), 4)}

    rng = np.random.RandomState(seed)
    started, best = time.time(), None
    for epoch in range(epochs):
        encoder.train()
        order = rng.permutation(len(train))
        for start in range(0, len(order), batch):
            rows = [train[i] for i in order[start:start + batch]]
            loss = torch.nn.functional.cross_entropy(logits(rows), torch.tensor([r[2] for r in rows]))
            train_step(loss, parameters, optimiser, schedule)
        on_dev = figures(dev)
        print(f"{name} epoch {epoch + 1}: dev {on_dev} ({time.time() - started:.0f} s)", flush=True)
        if best is None or on_dev["accuracy"] > best["dev"]["accuracy"]:
            best = {"epoch": epoch + 1, "dev": on_dev, "test": figures(test)}
    return dict(best, seconds=round(time.time() - started), threads=threads)


if __name__ == "__main__":
    threads = int(os.environ.get("REFERENCE_THREADS", "2"))
    result = {"torch": torch.__version__, "model": "all-MiniLM-L6-v2, [CLS] sentence [SEP] target [SEP]",
              "sets": {name: finetune(name, threads=threads) for name in SETS}}
    out = ROOT / "bench" / "results" / "aspects_reference.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
