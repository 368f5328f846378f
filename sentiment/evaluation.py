"""Held-out evaluation with scikit-learn's metrics."""
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .data import load_labelled


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
    """Evaluate a loaded Predictor on a labelled file; rows with unknown labels are reported and skipped."""
    texts, true, bad, _ = load_labelled(path, text_field, label_field, labels=set(predictor.labels), report=log)
    result = report(true, predictor.predict(texts), predictor.labels)
    result["skipped_rows"] = len(bad)
    return result
