"""Use case: recommend how to serve backordered lines, and the worker job that runs it.

One run is one REPEATABLE READ transaction, so the lines and the supply it
allocates are one snapshot. It holds a transaction lock, so two runs never
write the recommendations at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from services.recommend import repository
from services.recommend.actions import build_recommendations
from services.recommend.allocation import build_arcs, build_sources, greedy_allocation, solve_allocation
from services.recommend.governance import read_governance_policy, seed_governance_policy
from services.recommend.settings import read_recommendation_settings
from services.settings import Settings

logger = logging.getLogger(__name__)

RECOMMEND_JOB_NAME = "recommend"


class RecommendBusy(RuntimeError):
    """Another recommendation run holds the lock on the recommendations."""


@dataclass(frozen=True)
class RecommendResult:
    """What one run allocated and wrote.

    weighted_served is the sum of priority x units the LP serves, and
    greedy_weighted_served the same for the greedy rule on the same input.
    """

    lines: int
    arcs: int
    proposed: int
    kept: int
    updated: int
    inserted: int
    staled: int
    weighted_served: float
    greedy_weighted_served: float
    by_action: dict[str, int] = field(default_factory=dict)
    by_class: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return the integer counts a job_runs row records."""
        return {
            "lines": self.lines,
            "arcs": self.arcs,
            "proposed": self.proposed,
            "kept": self.kept,
            "updated": self.updated,
            "inserted": self.inserted,
            "staled": self.staled,
            **{f"action_{name}": count for name, count in sorted(self.by_action.items())},
            **{f"class_{name}": count for name, count in sorted(self.by_class.items())},
        }


def recommend(engine: Engine, *, as_of: date | None = None, job_run_id: int | None = None) -> RecommendResult:
    """Allocate supply to the backordered lines and replace the proposed recommendations with the result.

    as_of is the business date of every warehouse; None takes today in each
    warehouse's time zone. Raises RecommendBusy when another run holds the
    lock, InvalidGovernancePolicy or InvalidRecommendationSettings for an
    unusable stored setting, and AllocationFailed when HiGHS finds no
    optimal solution.
    """
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        if not repository.lock_recommendations(connection):
            raise RecommendBusy("another recommendation run is writing the recommendations; run again when it has finished")
        seed_governance_policy(connection)
        policy = read_governance_policy(connection)
        settings = read_recommendation_settings(connection)
        run = repository.load_run_input(connection, settings, as_of=as_of)
        loaded = time.perf_counter()

        sources = build_sources(run.allocation, settings)
        arcs = build_arcs(run.allocation, sources)
        allocation = solve_allocation(run.allocation, sources, arcs, settings)
        greedy = greedy_allocation(run.allocation, sources, arcs)
        rows = build_recommendations(run, sources, arcs, allocation, policy)
        solved = time.perf_counter()

        reason = f"run {'of job run ' + str(job_run_id) if job_run_id else 'by hand'} no longer proposes it."
        written = repository.merge_recommendations(connection, rows, job_run_id=job_run_id, reason=reason)
        finished = time.perf_counter()

    result = RecommendResult(
        lines=len(run.allocation.lines),
        arcs=len(arcs),
        proposed=len(rows),
        kept=written.kept,
        updated=written.updated,
        inserted=written.inserted,
        staled=written.staled,
        weighted_served=allocation.weighted_served,
        greedy_weighted_served=greedy.weighted_served,
        by_action=dict(Counter(rows["action"].tolist())),
        by_class=dict(Counter(rows["governance_class"].tolist())),
        seconds={"load": loaded - started, "solve": allocation.seconds, "greedy": greedy.seconds,
                 "build": solved - loaded, "write": finished - solved, "total": finished - started},
    )
    logger.info(
        "recommend: %d lines, %d arcs, %d recommendations (kept %d, updated %d, inserted %d, staled %d);"
        " priority-weighted units served %.1f (greedy %.1f) in %.2f s (load %.2f, LP %.2f, write %.2f)",
        result.lines, result.arcs, result.proposed, result.kept, result.updated, result.inserted, result.staled,
        result.weighted_served, result.greedy_weighted_served, result.seconds["total"], result.seconds["load"],
        result.seconds["solve"], result.seconds["write"],
    )
    return result


def recommend_job(engine: Engine, job_run_id: int, settings: Settings) -> dict[str, int]:
    """Run the recommendations for the worker when anything they read changed since the last succeeded run."""
    with engine.connect() as connection:
        since = repository.last_succeeded_run(connection, RECOMMEND_JOB_NAME)
        if since is not None and not repository.changed_since(connection, since):
            logger.info("recommend job run %d: nothing changed since %s; recommendations kept", job_run_id, since.isoformat())
            return {"skipped": 1}
    return {"skipped": 0, **recommend(engine, as_of=settings.as_of, job_run_id=job_run_id).counts()}
