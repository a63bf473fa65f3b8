"""The backorder-risk classifier: under-bagged gradient-boosted trees with calibrated probabilities.

About 1% of SKUs go on backorder. Each bag trains a
HistGradientBoostingClassifier on every positive and a random sample of
NEGATIVES_PER_POSITIVE negatives per positive; the bags' probabilities are
averaged (under-bagging). Under-sampling inflates the probabilities, so
isotonic calibration on out-of-fold probabilities maps them back to
observed frequencies: a score of 0.3 means that about 30% of such
SKUs went on backorder.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from services.risk.features import FEATURE_COLUMNS, build_matrix

logger = logging.getLogger(__name__)

BAGS = 3
NEGATIVES_PER_POSITIVE = 5
CALIBRATION_FOLDS = 3
# A training set needs at least this many positives per calibration fold,
# else isotonic calibration has too few events to map.
MIN_POSITIVES = 5 * CALIBRATION_FOLDS
CALIBRATION_BINS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0001)
# Each bag is small (a few thousand to a few tens of thousands of rows), where
# OpenMP threads gain little and, on a busy machine, lose much to waiting.
THREADS = 1


class TrainingRefused(ValueError):
    """The training rows cannot make a model: too few rows, or too few or no backorders."""


class UnderBaggedClassifier(ClassifierMixin, BaseEstimator):
    """Average of gradient-boosted trees, each fitted on all positives and a sample of negatives."""

    def __init__(self, bags: int = BAGS, negatives_per_positive: float = NEGATIVES_PER_POSITIVE,
                 max_iter: int = 200, learning_rate: float = 0.06, max_leaf_nodes: int = 31,
                 random_state: int = 0):
        self.bags = bags
        self.negatives_per_positive = negatives_per_positive
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(np.int8)
        self.classes_ = np.array([0, 1])
        # A column with no value at all (open_po_qty in the public data set)
        # carries nothing and the tree binning rejects it, so it is left out.
        self.columns_ = np.flatnonzero(~np.isnan(X).all(axis=0))
        X = X[:, self.columns_]
        rng = np.random.default_rng(self.random_state)
        positives = np.flatnonzero(y == 1)
        negatives = np.flatnonzero(y == 0)
        take = min(len(negatives), int(round(len(positives) * self.negatives_per_positive)))
        self.estimators_ = []
        # With few negatives every bag would hold the same rows, so one bag does.
        self.bags_fitted_ = 1 if take == len(negatives) else self.bags
        with threadpool_limits(THREADS):
            self._fit_bags(X, y, positives, negatives, take, rng)
        return self

    def _fit_bags(self, X, y, positives, negatives, take, rng) -> None:
        for bag in range(self.bags_fitted_):
            rows = np.concatenate([positives, rng.choice(negatives, size=take, replace=False)])
            tree = HistGradientBoostingClassifier(
                max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                l2_regularization=1.0, min_samples_leaf=20, random_state=self.random_state + bag,
            )
            self.estimators_.append(tree.fit(X[rows], y[rows]))

    def predict_proba(self, X):
        X = np.asarray(X, dtype=np.float64)[:, self.columns_]
        with threadpool_limits(THREADS):
            positive = np.mean([tree.predict_proba(X)[:, 1] for tree in self.estimators_], axis=0)
        return np.column_stack([1.0 - positive, positive])


def check_training_rows(labels: np.ndarray, where: str) -> None:
    """Raise TrainingRefused when the labels cannot train a calibrated model, saying why."""
    positives = int(np.sum(labels == 1))
    if len(labels) == 0:
        raise TrainingRefused(f"{where} has no rows; load order history or pass a labelled file")
    if positives == 0:
        raise TrainingRefused(
            f"{where} has {len(labels)} rows and none went on backorder, so there is nothing to learn a risk "
            f"from; widen the training window or train on the public data set (control-tower risk train --kaggle PATH)"
        )
    if positives == len(labels):
        raise TrainingRefused(f"{where} has {len(labels)} rows and every one went on backorder; a model needs both outcomes")
    if positives < MIN_POSITIVES:
        raise TrainingRefused(
            f"{where} has {positives} backorders among {len(labels)} rows; calibration needs at least {MIN_POSITIVES}"
        )


class CalibratedRiskClassifier(ClassifierMixin, BaseEstimator):
    """Under-bagged trees fitted on CALIBRATION_FOLDS stratified folds, mapped to frequencies by isotonic regression.

    The trees of each fold are fitted on the other folds' rows and score the
    fold's own rows, and one isotonic map is fitted on these out-of-fold
    probabilities. A prediction is the mean of the fold models' mapped
    probabilities, as in CalibratedClassifierCV(method="isotonic",
    ensemble=True) but with one map for all folds, so the map is applied to
    the models it was fitted on. A refit on every row under the same map
    understated the observed backorder rate above 10% by up to a quarter,
    because the refit's highest raw scores run lower than the fold models'
    scores. The calibrated out-of-fold probabilities
    (oof_probabilities_) also choose the flag threshold.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(np.int8)
        self.classes_ = np.array([0, 1])
        splitter = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=self.random_state)
        out_of_fold = np.zeros(len(y))
        self.fold_models_ = []
        for train, test in splitter.split(X, y):
            bags = UnderBaggedClassifier(random_state=self.random_state).fit(X[train], y[train])
            out_of_fold[test] = bags.predict_proba(X[test])[:, 1]
            self.fold_models_.append(bags)
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(out_of_fold, y)
        self.oof_probabilities_ = self.isotonic_.predict(out_of_fold)
        return self

    def predict_proba(self, X):
        # A model stored before the fold ensemble has one refit on every row (bags_) and no fold_models_.
        models = self.fold_models_ if hasattr(self, "fold_models_") else [self.bags_]
        positive = np.mean([self.isotonic_.predict(bags.predict_proba(X)[:, 1]) for bags in models], axis=0)
        return np.column_stack([1.0 - positive, positive])


def new_classifier(random_state: int = 0) -> CalibratedRiskClassifier:
    return CalibratedRiskClassifier(random_state=random_state)


@dataclass
class TrainedModel:
    """A fitted classifier with what explanations and drift checks need from its training set."""

    classifier: CalibratedRiskClassifier
    features: list[str]
    training_rows: int
    positive_rate: float
    negative_medians: dict[str, float]
    importances: dict[str, float]
    threshold: float
    scores: dict = field(default_factory=dict)

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        return self.classifier.predict_proba(matrix[self.features].to_numpy(np.float64))[:, 1]

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> "TrainedModel":
        # NOTE: pickle runs code on load; model bytes come only from this product's own risk_models table.
        model = pickle.loads(data)
        if not isinstance(model, TrainedModel):
            raise TypeError(f"stored model bytes hold a {type(model).__name__}, not a TrainedModel")
        return model


def flag_threshold(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Return the flag threshold: the probability that maximises F1 on held-out scores, at least 0.05."""
    order = np.argsort(-probabilities)
    sorted_labels = labels[order]
    true_positives = np.cumsum(sorted_labels)
    flagged = np.arange(1, len(labels) + 1)
    f1 = 2 * true_positives / (flagged + sorted_labels.sum())
    best = int(np.argmax(f1))
    return float(max(probabilities[order][best], 0.05))


def train_model(frame: pd.DataFrame, labels: np.ndarray, *, where: str = "the training set",
                random_state: int = 0, importance_rows: int = 5_000) -> TrainedModel:
    """Fit the calibrated classifier on canonical rows and their labels; raise TrainingRefused when it cannot."""
    labels = np.asarray(labels).astype(np.int8)
    check_training_rows(labels, where)
    matrix = build_matrix(frame)
    started = time.perf_counter()

    classifier = new_classifier(random_state).fit(matrix.to_numpy(np.float64), labels)
    fitted = time.perf_counter()

    rng = np.random.default_rng(random_state)
    sample = rng.choice(len(matrix), size=min(importance_rows, len(matrix)), replace=False)
    importances = _importances(classifier, matrix.iloc[sample], labels[sample], random_state)
    held_out = classifier.oof_probabilities_
    model = TrainedModel(
        classifier=classifier,
        features=list(FEATURE_COLUMNS),
        training_rows=len(labels),
        positive_rate=float(labels.mean()),
        negative_medians={name: float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")
                          for name, values in matrix[labels == 0].items()},
        importances=importances,
        threshold=flag_threshold(held_out, labels),
        scores=evaluation_scores(held_out, labels),
    )
    logger.info(
        "risk model: trained on %d rows (%d backorders) in %.1f s, flag threshold %.3f, held-out ROC AUC %.4f",
        len(labels), int(labels.sum()), fitted - started, model.threshold, model.scores["roc_auc"],
    )
    return model


def _importances(classifier, matrix: pd.DataFrame, labels: np.ndarray, random_state: int) -> dict[str, float]:
    """Permutation importance (drop in ROC AUC) of each feature, on a sample of the training rows."""
    if labels.min() == labels.max():
        return {name: 0.0 for name in matrix.columns}
    result = permutation_importance(
        classifier, matrix.to_numpy(np.float64), labels, scoring="roc_auc", n_repeats=1, random_state=random_state
    )
    return {name: float(value) for name, value in zip(matrix.columns, result.importances_mean)}


def evaluation_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """ROC AUC, PR AUC (average precision), Brier score and the calibration table of held-out probabilities."""
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "positive_rate": float(labels.mean()),
        "calibration": calibration_table(probabilities, labels),
    }


def calibration_table(probabilities: np.ndarray, labels: np.ndarray) -> list[dict]:
    """Rows, mean predicted probability and observed backorder rate per probability bin."""
    bins = np.digitize(probabilities, CALIBRATION_BINS[1:-1])
    table = []
    for index in range(len(CALIBRATION_BINS) - 1):
        inside = bins == index
        if not inside.any():
            continue
        table.append({
            "low": CALIBRATION_BINS[index],
            "high": min(CALIBRATION_BINS[index + 1], 1.0),
            "rows": int(inside.sum()),
            "mean_predicted": float(probabilities[inside].mean()),
            "observed": float(labels[inside].mean()),
        })
    return table


@dataclass(frozen=True)
class CrossValidation:
    """Per-fold and pooled scores of a stratified k-fold cross-validation."""

    folds: list[dict]
    pooled: dict
    seconds_per_fold: list[float]

    def spread(self, name: str) -> tuple[float, float]:
        values = np.array([fold[name] for fold in self.folds])
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def cross_validate(frame: pd.DataFrame, labels: np.ndarray, *, folds: int = 5, random_state: int = 0) -> CrossValidation:
    """Stratified k-fold cross-validation of the whole pipeline: ROC AUC and PR AUC per fold, calibration pooled."""
    labels = np.asarray(labels).astype(np.int8)
    check_training_rows(labels, "the cross-validation set")
    matrix = build_matrix(frame).to_numpy(np.float64)
    pooled = np.zeros(len(labels))
    fold_scores, seconds = [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    for number, (train, test) in enumerate(splitter.split(matrix, labels), start=1):
        started = time.perf_counter()
        classifier = new_classifier(random_state).fit(matrix[train], labels[train])
        pooled[test] = classifier.predict_proba(matrix[test])[:, 1]
        seconds.append(time.perf_counter() - started)
        scores = evaluation_scores(pooled[test], labels[test])
        scores.pop("calibration")
        fold_scores.append(scores)
        logger.info("risk cross-validation fold %d of %d: ROC AUC %.4f, PR AUC %.4f, %.1f s",
                    number, folds, scores["roc_auc"], scores["pr_auc"], seconds[-1])
    return CrossValidation(folds=fold_scores, pooled=evaluation_scores(pooled, labels), seconds_per_fold=seconds)
