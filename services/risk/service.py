"""Use cases of the backorder-risk model: train, score every SKU and warehouse, watch drift, and the worker job.

Scoring uses the newest model trained on the product's own history when
one exists, else the newest model trained on the public data set. Each use
case reads in one REPEATABLE READ transaction and writes in one transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from services.risk import repository
from services.risk.explain import explain_rows
from services.risk.features import LABEL_COLUMN, build_matrix, labels_of, read_backorder_csv
from services.risk.model import TrainedModel, TrainingRefused, calibration_table, train_model
from services.risk.snapshots import LOOKBACK_WEEKS, snapshots
from services.settings import Settings
from services.worker.job_runs import JobOutcome

logger = logging.getLogger(__name__)

RISK_JOB_NAME = "risk"
# A snapshot's label: a line of the pair due in the next LABEL_WEEKS weeks went on backorder.
LABEL_WEEKS = 4
# Weekly snapshots the history training uses, oldest first; a snapshot is
# labelled once LABEL_WEEKS weeks have passed after it.
HISTORY_WEEKS = 52
MIN_LABELLED_WEEKS = 26
RETRAIN_AFTER = timedelta(days=7)
# Drift bands: the share of scored pairs flagged, and observed backorders
# over mean predicted probability on the recent labelled weeks.
FLAGGED_SHARE_BAND = (0.001, 0.20)
CALIBRATION_RATIO_BAND = (0.5, 2.0)
CALIBRATION_WEEKS = 4
NO_DATA_EXPLANATION = "no order, purchase or receipt history for this SKU in this warehouse; risk not scored"


class NoModel(LookupError):
    """No risk model is stored yet."""


class NotEnoughHistory(TrainingRefused):
    """The order history does not yet hold enough labelled weeks to train on."""


@dataclass
class TrainResult:
    version: int
    source: str
    training_rows: int
    positive_rows: int
    threshold: float
    scores: dict
    seconds: float


def _store(engine: Engine, model: TrainedModel, source: str, seconds: float, extra_scores: dict | None = None) -> TrainResult:
    scores = {**model.scores, **(extra_scores or {}), "training_seconds": round(seconds, 1)}
    positives = int(round(model.positive_rate * model.training_rows))
    with engine.begin() as connection:
        version = repository.insert_model(
            connection, source=source, features=model.features, training_rows=model.training_rows,
            positive_rows=positives, threshold=model.threshold, scores=scores, model_bytes=model.to_bytes(),
        )
    logger.info("risk model version %d (%s) stored: %d rows, %d backorders, flag threshold %.3f",
                version, source, model.training_rows, positives, model.threshold)
    return TrainResult(version, source, model.training_rows, positives, model.threshold, scores, seconds)


def train_on_file(engine: Engine, path: Path) -> TrainResult:
    """Train on a labelled file in the public data set's layout and store the model."""
    frame = read_backorder_csv(path)
    started = time.perf_counter()
    model = train_model(frame, labels_of(frame), where=str(path))
    return _store(engine, model, "kaggle", time.perf_counter() - started, {"file": Path(path).name})


def _reference_date(settings_timezone: str, as_of: date | None) -> date:
    return as_of or datetime.now(timezone.utc).astimezone(ZoneInfo(settings_timezone)).date()


def _load_events(engine: Engine, reference: date, first_week: int) -> repository.RiskEvents:
    since = reference + timedelta(days=7 * (first_week - LOOKBACK_WEEKS))
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        return repository.load_events(connection, reference, since)


def history_rows(engine: Engine, reference: date) -> pd.DataFrame:
    """Labelled weekly snapshots of pairs with history, from HISTORY_WEEKS weeks ago to LABEL_WEEKS weeks ago."""
    weeks = list(range(-HISTORY_WEEKS, -LABEL_WEEKS + 1))
    events = _load_events(engine, reference, weeks[0])
    rows = snapshots(events, weeks, LABEL_WEEKS)
    return rows[rows["has_history"]].reset_index(drop=True)


def labelled_weeks(rows: pd.DataFrame) -> int:
    """Weeks of snapshots that hold at least one backorder and one pair without."""
    by_week = rows.groupby("feature_date")[LABEL_COLUMN].agg(["min", "max"])
    return int(((by_week["min"] == 0) & (by_week["max"] == 1)).sum())


def train_on_history(engine: Engine, reference: date) -> TrainResult:
    """Train on the product's own weekly snapshots; raise NotEnoughHistory or TrainingRefused when it cannot."""
    rows = history_rows(engine, reference)
    weeks = labelled_weeks(rows) if len(rows) else 0
    if weeks < MIN_LABELLED_WEEKS:
        raise NotEnoughHistory(
            f"the order history holds {weeks} labelled weeks before {reference.isoformat()}; training on it needs "
            f"{MIN_LABELLED_WEEKS}, so the model trained on the public data set stays in use"
        )
    started = time.perf_counter()
    model = train_model(rows, rows[LABEL_COLUMN].to_numpy(), where=f"the order history up to {reference.isoformat()}")
    return _store(engine, model, "history", time.perf_counter() - started, {"labelled_weeks": weeks})


def load_model(engine: Engine) -> tuple[repository.StoredModel, TrainedModel]:
    """Return the model scoring uses: the newest trained on history, else the newest trained on the public data set."""
    with engine.connect() as connection:
        stored = repository.latest_model(connection, "history") or repository.latest_model(connection)
    if stored is None:
        raise NoModel("no risk model is stored; train one with `control-tower risk train --kaggle PATH` "
                      "(the public backorder file) before scoring")
    return stored, TrainedModel.from_bytes(stored.model_bytes)


@dataclass
class ScoreResult:
    reference: date
    model_version: int
    model_source: str
    pairs: int = 0
    scored: int = 0
    no_data: int = 0
    flagged: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {"model_version": self.model_version, "kaggle_model": int(self.model_source == "kaggle"),
                "pairs": self.pairs, "scored": self.scored, "no_data": self.no_data, "flagged": self.flagged,
                "drift_warnings": len(self.warnings)}


def score_frame(model: TrainedModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Probability, flag and explanation of canonical rows; rows without history get status no_data."""
    has_history = rows["has_history"].to_numpy(bool) if "has_history" in rows else np.ones(len(rows), bool)
    result = pd.DataFrame({"probability": np.nan, "flagged": False, "explanation": NO_DATA_EXPLANATION,
                           "status": "no_data"}, index=rows.index)
    scored = rows[has_history]
    if len(scored):
        matrix = build_matrix(scored)
        probabilities = model.predict(matrix)
        flagged = probabilities >= model.threshold
        result.loc[scored.index, "probability"] = probabilities
        result.loc[scored.index, "flagged"] = flagged
        result.loc[scored.index, "status"] = "scored"
        result.loc[scored.index, "explanation"] = [
            f"{probability:.0%} risk, below the flag threshold of {model.threshold:.0%}" for probability in probabilities
        ]
        flagged_index = scored.index[flagged]
        if len(flagged_index):
            result.loc[flagged_index, "explanation"] = explain_rows(
                model, matrix.loc[flagged_index], probabilities[flagged])
    return result


def score_pairs(engine: Engine, *, as_of: date | None = None, business_timezone: str = "UTC",
                job_run_id: int | None = None) -> ScoreResult:
    """Score every SKU and warehouse at the reference date and replace the risk_scores rows."""
    started = time.perf_counter()
    reference = _reference_date(business_timezone, as_of)
    stored, model = load_model(engine)
    weeks = [-LABEL_WEEKS - offset for offset in range(CALIBRATION_WEEKS)][::-1] + [0]
    events = _load_events(engine, reference, min(weeks))
    all_rows = snapshots(events, weeks, LABEL_WEEKS)
    current = all_rows[all_rows["feature_date"] == reference].reset_index(drop=True)

    scores = score_frame(model, current)
    rows = pd.concat([current[["item_id", "warehouse_id", "feature_date"]], scores], axis=1)
    rows["model_version"] = np.where(rows["status"] == "scored", stored.version, pd.NA)
    result = ScoreResult(reference, stored.version, stored.source, pairs=len(rows),
                         scored=int((rows["status"] == "scored").sum()), no_data=int((rows["status"] == "no_data").sum()),
                         flagged=int(rows["flagged"].sum()))
    result.warnings = drift_warnings(model, rows, all_rows[all_rows["feature_date"] < reference])

    with engine.begin() as connection:
        repository.replace_scores(connection, rows, job_run_id)
    result.seconds = time.perf_counter() - started
    logger.info("risk: scored %d of %d pairs with model version %d (%s), %d flagged, %d without history, in %.2f s",
                result.scored, result.pairs, stored.version, stored.source, result.flagged, result.no_data, result.seconds)
    for warning in result.warnings:
        logger.warning("risk drift: %s", warning)
    return result


def drift_warnings(model: TrainedModel, scored: pd.DataFrame, recent: pd.DataFrame) -> list[str]:
    """Warnings when the flagged share or the calibration on recent labelled weeks leaves its band."""
    warnings = []
    scored_only = scored[scored["status"] == "scored"]
    if len(scored_only):
        share = float(scored_only["flagged"].mean())
        low, high = FLAGGED_SHARE_BAND
        if not low <= share <= high:
            warnings.append(f"{share:.1%} of scored pairs are flagged, outside the band {low:.1%} to {high:.0%}")
    recent = recent[recent["has_history"]] if "has_history" in recent else recent
    if LABEL_COLUMN in recent and len(recent):
        labelled = recent.dropna(subset=[LABEL_COLUMN])
        probabilities = model.predict(build_matrix(labelled))
        observed, predicted = float(labelled[LABEL_COLUMN].mean()), float(probabilities.mean())
        ratio = observed / predicted if predicted > 0 else float("inf")
        low, high = CALIBRATION_RATIO_BAND
        if not low <= ratio <= high:
            warnings.append(
                f"over the last {CALIBRATION_WEEKS} labelled weeks {observed:.1%} of pairs went on backorder against "
                f"{predicted:.1%} predicted (ratio {ratio:.2f}, band {low} to {high}); retrain or check the data"
            )
    return warnings


def _history_model_due(engine: Engine) -> bool:
    with engine.connect() as connection:
        stored = repository.latest_model(connection, "history")
    return stored is None or stored.trained_at < datetime.now(timezone.utc) - RETRAIN_AFTER


NEW_EXPOSURE_RUN = """
    select exists (
        select 1 from job_runs e
        where e.job_name = 'exposure' and e.status = 'succeeded'
          and e.finished_at > coalesce((select max(r.started_at) from job_runs r
                                        where r.job_name = :risk and r.status = 'succeeded'), '-infinity')
    )
"""


def _exposure_ran_since_last_scoring(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text(NEW_EXPOSURE_RUN), {"risk": RISK_JOB_NAME}).scalar_one())


def risk_job(engine: Engine, job_run_id: int, settings: Settings) -> JobOutcome:
    """After each exposure run: retrain on history when due and possible, then score every pair.

    The history model is retrained when the newest is older than a week and
    the history holds MIN_LABELLED_WEEKS labelled weeks; otherwise the newest
    model stays in use, trained on the public data set when no history model
    exists, and the counts say so (kaggle_model 1, history_too_short 1).
    """
    if not _exposure_ran_since_last_scoring(engine):
        logger.info("risk job run %d: no exposure run finished since the last scoring; nothing to score", job_run_id)
        return JobOutcome(counts={"waiting_for_exposure": 1})
    reference = _reference_date(settings.business_timezone, settings.as_of)
    counts: dict[str, int] = {"retrained": 0, "history_too_short": 0}
    if _history_model_due(engine):
        try:
            trained = train_on_history(engine, reference)
            counts["retrained"] = 1
            counts["history_rows"] = trained.training_rows
        except TrainingRefused as refusal:
            counts["history_too_short"] = int(isinstance(refusal, NotEnoughHistory))
            logger.warning("risk job run %d: not retrained: %s", job_run_id, refusal)
    try:
        result = score_pairs(
            engine, as_of=settings.as_of, business_timezone=settings.business_timezone, job_run_id=job_run_id
        )
    except NoModel as missing:
        logger.warning("risk job run %d: %s", job_run_id, missing)
        return JobOutcome(counts={**counts, "no_model": 1}, error=str(missing))
    if result.model_source == "kaggle":
        logger.info("risk job run %d: scored with model version %d trained on the public data set",
                    job_run_id, result.model_version)
    return JobOutcome(counts={**counts, **result.counts()}, error="; ".join(result.warnings) or None)


AT_RISK_NOT_YET_SHORT = """
    select i.sku, w.warehouse_code, r.item_id, r.warehouse_id, r.probability, r.explanation, r.model_version, r.scored_at
    from risk_scores r
    join items i on i.id = r.item_id
    join warehouses w on w.id = r.warehouse_id
    where r.flagged
      and not exists (
          select 1 from exposure e join sales_order_lines l on l.id = e.so_line_id
          where l.item_id = r.item_id and l.warehouse_id = r.warehouse_id and e.shortage_qty > 0)
    order by r.probability desc, i.sku, w.warehouse_code
    limit :limit
"""


def at_risk_not_yet_short(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """Flagged SKU-warehouse pairs with no order line short today, highest probability first."""
    if limit < 1:
        raise ValueError(f"limit {limit} is below 1; ask for at least one pair")
    with engine.connect() as connection:
        result = connection.execute(text(AT_RISK_NOT_YET_SHORT), {"limit": limit})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
