"""The risk model reads the public backorder file and ranks its backorders well on a sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from services.risk.features import build_matrix, labels_of, read_backorder_csv
from services.risk.model import new_classifier

KAGGLE_FILE = "risk/Kaggle_Test_Dataset_v2.csv.gz"
# A broken pipeline (labels shuffled, features dropped, missing values
# turned into zeros) falls well below this on the held-out part of the sample.
AUC_FLOOR = 0.88


@pytest.fixture(scope="module")
def kaggle_frame():
    from tests.conftest import REALDATA_DIR

    if not (REALDATA_DIR / KAGGLE_FILE).is_file():
        pytest.skip(f"{REALDATA_DIR / KAGGLE_FILE} is absent; it sits beside the project in ../shared")
    return read_backorder_csv(REALDATA_DIR / KAGGLE_FILE)


def test_public_file_reads_every_sku_without_its_footer(realdata_dir, kaggle_frame):
    labels = labels_of(kaggle_frame)

    assert len(kaggle_frame) == 242_075
    assert int(labels.sum()) == 2_688
    assert int(kaggle_frame["lead_time"].isna().sum()) == 14_724
    assert int((kaggle_frame["perf_6_month_avg"] == -99).sum()) == 19_101


def test_minus_99_and_blank_lead_time_are_missing_in_the_matrix(realdata_dir, kaggle_frame):
    matrix = build_matrix(kaggle_frame)

    assert int(matrix["perf_6_month_avg"].isna().sum()) == 19_101
    assert int(matrix["lead_time"].isna().sum()) == 14_724
    assert float(np.nanmin(matrix["perf_6_month_avg"])) == 0.0


def test_sample_of_30k_skus_ranks_backorders_above_the_floor(realdata_dir, kaggle_frame):
    labels = labels_of(kaggle_frame)
    sample, _ = train_test_split(np.arange(len(labels)), train_size=30_000, stratify=labels, random_state=1)
    train, test = train_test_split(sample, test_size=0.3, stratify=labels[sample], random_state=2)
    matrix = build_matrix(kaggle_frame).to_numpy(np.float64)

    classifier = new_classifier().fit(matrix[train], labels[train])
    probabilities = classifier.predict_proba(matrix[test])[:, 1]

    auc = roc_auc_score(labels[test], probabilities)
    assert auc > AUC_FLOOR, f"ROC AUC {auc:.3f} on 9,000 held-out SKUs is below the floor {AUC_FLOOR}"
    assert not math.isnan(probabilities.mean())
