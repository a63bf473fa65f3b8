"""The calibrated risk classifier: probabilities that match observed rates, and models stored in the older layout."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from services.risk.model import CALIBRATION_FOLDS, CalibratedRiskClassifier


def cover_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (weeks of cover, lead time) whose backorders come from cover shorter than the lead time, 80% of the time."""
    rng = np.random.default_rng(seed)
    cover = rng.uniform(0, 20, rows)
    lead = rng.integers(1, 12, rows).astype(float)
    labels = ((cover < lead) & (rng.random(rows) < 0.8)).astype(np.int8)
    return np.column_stack([cover, lead]), labels


@pytest.fixture(scope="module")
def fitted():
    matrix, labels = cover_rows(3_000, seed=1)
    return CalibratedRiskClassifier().fit(matrix, labels)


def test_classifier_keeps_one_model_per_calibration_fold(fitted):
    assert len(fitted.fold_models_) == CALIBRATION_FOLDS


def test_held_out_probabilities_match_observed_rate(fitted):
    matrix, labels = cover_rows(3_000, seed=2)

    probabilities = fitted.predict_proba(matrix)[:, 1]

    short = matrix[:, 0] < matrix[:, 1]
    assert abs(probabilities[short].mean() - labels[short].mean()) < 0.05
    assert probabilities[~short].mean() < 0.05


def test_model_stored_with_one_refit_still_predicts(fitted):
    matrix, _ = cover_rows(200, seed=3)
    older = pickle.loads(pickle.dumps(fitted))
    older.bags_ = older.fold_models_[0]
    del older.fold_models_

    probabilities = older.predict_proba(matrix)[:, 1]

    expected = fitted.isotonic_.predict(fitted.fold_models_[0].predict_proba(matrix)[:, 1])
    np.testing.assert_array_equal(probabilities, expected)
