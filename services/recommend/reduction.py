"""Arcs the allocation LP can do without, and lines whose allocation is known before it runs.

No SQL and no solver here. The arrays are those of the allocation LP
(services.recommend.allocation), one element per arc or per source.

A source *cannot run out* when it could serve the full demand of every
line through every arc still kept to it. That is, rate x demand summed
over those arcs is at most its capacity. Summed over the restricted arcs
(lines that may not take protected stock), it is at most its capacity
less the protected units.

For each line, let b be its cheapest kept arc (lowest secondary cost per
unit, the first in arc order on a tie) among those to a source that cannot
run out. Every other arc of the line that costs as much as b or more is
dropped. Why that is safe: in any optimal allocation, move the units on
the dropped arcs onto b. b's source stays within its rows, since no arc can carry
more than its line's demand and the source could carry every such demand
at once; other sources only lose load. The line's units served stay the
same and its secondary cost does not rise, so the moved allocation is
optimal for both LP steps too. Dropping arcs only lowers the load of
sources, so a source that cannot run out stays so and dropping repeats
until nothing changes. A line left with b alone is *settled*: it takes its
full demand through b, and the LP solves only the lines and arcs left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A source whose potential load exceeds its room by no more than this (in source units) still counts as unable to run out.
LOAD_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Reduction:
    """The arcs left for the LP, the units of settled lines, and the room left at each source for the LP."""

    kept: np.ndarray  # per arc: an arc of a line that is not settled, kept for the LP
    qty: np.ndarray  # per arc: demand on the one arc of a settled line, else 0
    line_settled: np.ndarray  # per line
    capacity: np.ndarray  # per source, capacity less the units settled lines take
    open_to_others: np.ndarray  # per source, capacity less protected units less the units settled restricted arcs take
    rounds: int  # passes that dropped arcs


def _per_line_min(line: np.ndarray, values: np.ndarray, line_count: int) -> np.ndarray:
    best = np.full(line_count, np.inf)
    np.minimum.at(best, line, values)
    return best


def _first_per_line(line: np.ndarray, arcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (lines, their first arc) among the given arc positions, which are in ascending order."""
    lines, first = np.unique(line[arcs], return_index=True)
    return lines, arcs[first]


def _cannot_run_out(source, rate, restricted, demand, line, kept, capacity, open_to_others) -> np.ndarray:
    need = np.where(kept, rate * demand[line], 0.0)
    source_count = len(capacity)
    load = np.bincount(source, weights=need, minlength=source_count)
    restricted_load = np.bincount(source[restricted], weights=need[restricted], minlength=source_count)
    return (load <= capacity + LOAD_TOLERANCE) & (restricted_load <= open_to_others + LOAD_TOLERANCE)


def reduce_allocation(
    *, line: np.ndarray, source: np.ndarray, rate: np.ndarray, restricted: np.ndarray, cost: np.ndarray,
    demand: np.ndarray, capacity: np.ndarray, open_to_others: np.ndarray,
) -> Reduction:
    """Drop the arcs no optimal allocation needs and settle the lines left with one arc to a source that cannot run out.

    restricted marks the arcs of lines that may not take the source's
    protected units. open_to_others is capacity less those units. cost is
    the secondary cost per unit of each arc.
    """
    capacity = capacity.astype(np.float64)
    open_to_others = np.minimum(open_to_others.astype(np.float64), capacity)
    kept = np.ones(len(line), dtype=bool)
    rounds = 0
    while True:
        uncontested = kept & _cannot_run_out(source, rate, restricted, demand, line, kept, capacity, open_to_others)[source]
        best = _per_line_min(line, np.where(uncontested, cost, np.inf), len(demand))
        _, chosen = _first_per_line(line, np.flatnonzero(uncontested & (cost == best[line])))
        still = kept & (cost < best[line])
        still[chosen] = True
        if (still == kept).all():
            break
        kept = still
        rounds += 1

    return _settle(kept & uncontested, line=line, source=source, rate=rate, restricted=restricted, demand=demand,
                   kept=kept, capacity=capacity, open_to_others=open_to_others, rounds=rounds)


def _settle(uncontested, *, line, source, rate, restricted, demand, kept, capacity, open_to_others, rounds) -> Reduction:
    """Give each line whose one kept arc is uncontested its full demand there, and take those units off the sources."""
    source_count = len(capacity)
    arcs_per_line = np.bincount(line[kept], minlength=len(demand))
    single = np.flatnonzero(uncontested & (arcs_per_line[line] == 1))
    qty = np.zeros(len(line))
    qty[single] = demand[line[single]]
    line_settled = np.zeros(len(demand), dtype=bool)
    line_settled[line[single]] = True

    taken = rate[single] * demand[line[single]]
    limited = restricted[single]
    capacity = np.maximum(capacity - np.bincount(source[single], weights=taken, minlength=source_count), 0.0)
    open_to_others = open_to_others - np.bincount(source[single][limited], weights=taken[limited], minlength=source_count)
    open_to_others = np.clip(open_to_others, 0.0, capacity)
    kept = kept.copy()
    kept[single] = False
    return Reduction(kept=kept, qty=qty, line_settled=line_settled, capacity=capacity, open_to_others=open_to_others,
                     rounds=rounds)
