"""ETA forecasts on the SCMS delivery history, loaded through its mapping file as a user would load it.

Run with -s to see the figures that docs/forecasting.md reports.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.forecast.evaluate import evaluate_history, evaluate_single_model
from services.forecast.history import load_receipt_history
from services.forecast.models import ProphetModel
from services.forecast.refresh import refresh_forecasts

try:
    from services.sync.mapping import sync_export
except ImportError:  # the mapping connector is not part of this tree
    sync_export = None

# Prophet 1.5.0 calls pandas APIs that pandas 3 deprecates; the warnings are about its code.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:prophet")

SCMS_MAPPING = Path(__file__).resolve().parent.parent / "seed_data" / "mappings" / "scms_delivery_history.toml"
SPLIT = date(2014, 1, 1)


@pytest.fixture
def scms_engine(engine, realdata_dir):
    """A database holding the SCMS delivery history, loaded through its mapping file."""
    if sync_export is None or not SCMS_MAPPING.exists():
        pytest.skip("the SCMS mapping connector (services.sync.mapping, seed_data/mappings/scms_delivery_history.toml) is absent")
    sync_export(engine, realdata_dir / "supplier" / "SCMS_Delivery_History_Dataset.csv", SCMS_MAPPING)
    return engine


@pytest.mark.slow
def test_scms_p50_is_never_worse_than_the_promise(scms_engine):
    with scms_engine.connect() as connection:
        history = load_receipt_history(connection)

    selected = evaluate_history(history, split=SPLIT)
    naive = evaluate_single_model(history, split=SPLIT, model=ProphetModel("linear"))
    print(f"\n{selected.describe()}\n{naive.describe()}")

    # The mapping quarantines the 5,732 lines without a PO sent date, the SCMS
    # regional-centre shipments among them; one more has a receipt before its order.
    assert (selected.train_lines, selected.test_lines, selected.excluded_lines) == (3040, 1547, 1)
    assert selected.mae_promise_days == pytest.approx(634 / 1547)
    assert selected.mae_p50_days <= selected.mae_promise_days
    # NOTE: 95.9 percent of these test lines arrive on the promised day, so no P50 can beat the
    # promise by the 10 percent aimed at, and no interval of whole days can cover less than 95.9 percent.
    assert selected.coverage_p10_p90 >= 0.75
    assert naive.mae_p50_days > naive.mae_promise_days
    assert not any(model.startswith("prophet") for model in selected.test_lines_by_model)


@pytest.mark.slow
def test_refresh_fits_every_scms_series_without_failure(scms_engine):
    result = refresh_forecasts(scms_engine, as_of=date(2015, 9, 1), workers=1)

    assert result.partial is False
    assert (result.history_read, result.history_used, result.history_excluded) == (4588, 4587, 1)
    assert result.excluded_by_kind == {"received_before_order": 1}
    assert result.series_total == result.series_fitted == 67
    assert result.lines_forecast == 0
