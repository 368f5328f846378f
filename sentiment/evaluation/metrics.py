"""The one metrics module of training, evaluation and bench: accuracy, macro-F1 and r, held-out reports with
scikit-learn's metrics, and calibration (temperature, expected calibration error)."""
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ..corpora.labelled import load_labelled
from ..inference.predictor import log_softmax


def accuracy(true, predicted):
    """The share of predictions equal to the truth."""
    return float(np.mean(np.asarray(predicted) == np.asarray(true)))


def macro_f1(true, predicted, labels=None):
    """The unweighted mean of the per-class F1 over `labels` (None: the classes seen in either); 0 for an empty one."""
    return float(f1_score(true, predicted, labels=labels, average="macro", zero_division=0))


def pearson(scores, ratings):
    """Pearson's r of scores against human ratings, to 4 places."""
    return round(float(np.corrcoef(scores, ratings)[0, 1]), 4)


def three_way(predicted, true, labels=("negative", "neutral", "positive")):
    """{accuracy, macro_f1} to 4 places, the F1 over the three sentiment classes whatever was predicted."""
    return {"accuracy": round(accuracy(true, predicted), 4),
            "macro_f1": round(macro_f1(true, predicted, list(labels)), 4)}


def report(true, predicted, labels):
    """accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows = true)."""
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=labels, zero_division=0)
    return {
        "n": len(true),
        "accuracy": round(float(accuracy_score(true, predicted)), 5),
        "macro_f1": round(float(f1_score(true, predicted, labels=labels, average="macro", zero_division=0)), 5),
        "per_class": {label: {"precision": round(float(p), 5), "recall": round(float(r), 5), "f1": round(float(f), 5),
                              "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion_matrix": {"labels": list(labels),
                             "rows_true_columns_predicted": confusion_matrix(true, predicted, labels=labels).tolist()},
    }


def evaluate(predictor, path, text_field="text", label_field="label", log=print):
    """Evaluate a loaded Predictor on a labelled file; rows with unknown labels are reported and skipped.

    Each text is answered as the service answers it: a text of several sentences that reads `mixed` counts
    as wrong against a label set without it, and the confusion matrix gains a `mixed` column.
    """
    texts, true, bad = load_labelled(path, text_field, label_field, labels=set(predictor.labels), report=log)[:3]
    predicted = predictor.predict(texts)
    labels = predictor.labels + sorted(set(predicted) - set(predictor.labels))
    result = report(true, predicted, labels)
    result["skipped_rows"] = len(bad)
    return result


def fit_temperature(logits, labels, bounds=(0.5, 20.0)):
    """The T in `bounds` minimising the negative log-likelihood of softmax(logits / T) (Guo et al., 2017).

    The lower bound stops a perfectly separated dev set from driving T toward 0 (ever sharper answers).
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=int)

    def nll(log_t):
        return -log_softmax(logits / np.exp(log_t))[np.arange(len(labels)), labels].mean()

    return float(np.exp(minimize_scalar(nll, bounds=tuple(np.log(bounds)), method="bounded").x))


def expected_calibration_error(probabilities, true_ids, bins=15):
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(true_ids)
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def calibrated_ece_floor(probabilities, bins=15, draws=200, seed=0):
    """The mean ECE of a perfectly calibrated model with these confidences on this many examples.

    Each draw makes every answer right with probability equal to its confidence. On a few hundred
    examples this floor is several points: a measured ECE near it says nothing is left to fix.
    """
    probabilities = np.asarray(probabilities)
    predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    rng = np.random.RandomState(seed)
    floors = []
    for _ in range(draws):
        correct = rng.rand(len(confidence)) < confidence
        true = np.where(correct, predicted, (predicted + 1) % probabilities.shape[1])
        floors.append(expected_calibration_error(probabilities, true, bins))
    return float(np.mean(floors))
