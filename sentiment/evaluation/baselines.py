"""Baselines beside the model: TF-IDF + logistic regression, NBSVM (Wang & Manning 2012) and VADER."""
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from ..text.tokenizer import Tokenizer

_split = Tokenizer(max_len=10_000).split


class TfidfLogReg:
    """TF-IDF on word 1-2-grams, then logistic regression."""

    def fit(self, texts, labels):
        self.vectorizer = TfidfVectorizer(tokenizer=_split, lowercase=False, token_pattern=None, ngram_range=(1, 2),
                                          sublinear_tf=True, min_df=1)
        self.model = LogisticRegression(C=10, max_iter=2000).fit(self.vectorizer.fit_transform(texts), labels)
        return self

    def predict(self, texts):
        return self.model.predict(self.vectorizer.transform(texts)).tolist()

    def predict_proba(self, texts):
        """(N, C) probabilities, columns in the order of `labels`."""
        return self.model.predict_proba(self.vectorizer.transform(texts))

    @property
    def labels(self):
        return [str(label) for label in self.model.classes_]


class NBSVM:
    """Binarized 1-2-grams scaled by the NB log-count ratio, linear SVM, weights interpolated (beta=0.25).

    One-vs-rest for more than two classes.
    """

    def __init__(self, alpha=1.0, C=1.0, beta=0.25):
        self.alpha, self.C, self.beta = alpha, C, beta

    def fit(self, texts, labels):
        self.vectorizer = CountVectorizer(tokenizer=_split, lowercase=False, token_pattern=None, ngram_range=(1, 2),
                                          binary=True)
        X = self.vectorizer.fit_transform(texts)
        labels = np.asarray(labels)
        self.classes = sorted(set(labels))
        targets = self.classes[1:] if len(self.classes) == 2 else self.classes
        self.models = []
        for cls in targets:
            y = (labels == cls).astype(int)
            p = self.alpha + X[y == 1].sum(axis=0)
            q = self.alpha + X[y == 0].sum(axis=0)
            r = np.asarray(np.log((p / p.sum()) / (q / q.sum()))).ravel()
            svm = LinearSVC(C=self.C, max_iter=10000).fit(X.multiply(r).tocsr(), y)
            w = svm.coef_.ravel()
            w = (1 - self.beta) * np.abs(w).mean() + self.beta * w
            self.models.append((r, w, svm.intercept_[0]))
        return self

    def _scores(self, texts):
        X = self.vectorizer.transform(texts)
        return np.column_stack([sparse.csr_matrix(X.multiply(r)) @ w + b for r, w, b in self.models])

    def predict(self, texts):
        scores = self._scores(texts)
        if len(self.classes) == 2:
            return [self.classes[int(s > 0)] for s in scores[:, 0]]
        return [self.classes[i] for i in scores.argmax(axis=1)]


class Vader:
    """VADER's rule-based compound score in [-1, 1], with its own neutral band of +-0.05.

    Three-way (the default): positive at compound >= 0.05, negative at <= -0.05, else neutral.
    With labels positive and negative only, the band goes to negative, as VADER's authors split two ways.
    """

    BAND = 0.05

    def fit(self, texts, labels):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.three_way = "neutral" in set(labels) or not labels
        return self

    def scores(self, texts):
        return [self.analyzer.polarity_scores(t)["compound"] for t in texts]

    def predict(self, texts):
        if not self.three_way:
            return self.predict_polar(texts)
        return ["positive" if c >= self.BAND else "negative" if c <= -self.BAND else "neutral"
                for c in self.scores(texts)]

    def predict_polar(self, texts):
        return ["positive" if c >= self.BAND else "negative" for c in self.scores(texts)]
