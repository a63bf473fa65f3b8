"""Writing the canonical CSV files: one open writer per entity and the cell formats of the layout.

Cells are text: dates YYYY-MM-DD, money with two decimals, quantities as
whole numbers, booleans true/false, lists joined with "|", and an empty cell
for a missing value.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from services.sync.layout import ENTITIES, ENTITIES_BY_NAME


class CanonicalFiles:
    """The open canonical files of one demo, written column-wise and counted per file."""

    def __init__(self, out_dir: Path):
        self._out_dir = out_dir
        self._handles = {}
        self._writers = {}
        self.row_counts: dict[str, int] = {}

    def __enter__(self) -> "CanonicalFiles":
        self._out_dir.mkdir(parents=True, exist_ok=True)
        for entity in ENTITIES:
            handle = (self._out_dir / entity.file_name).open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([column.name for column in entity.columns])
            self._handles[entity.name] = handle
            self._writers[entity.name] = writer
            self.row_counts[entity.file_name] = 0
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles.values():
            handle.close()

    def write(self, entity_name: str, columns: dict[str, Sequence[str]]) -> int:
        """Write rows given as equally long columns of text; columns not given are left empty.

        Raises KeyError for a column the entity's layout does not have and
        ValueError when the columns differ in length.
        """
        entity = ENTITIES_BY_NAME[entity_name]
        names = [column.name for column in entity.columns]
        unknown = set(columns) - set(names)
        if unknown:
            raise KeyError(f"{entity_name} has no column {', '.join(sorted(unknown))}")
        lengths = {len(values) for values in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"{entity_name} columns differ in length: {sorted(lengths)}")
        (count,) = lengths
        if count == 0:
            return 0
        cells = [_as_list(columns[name]) if name in columns else [""] * count for name in names]
        self._write_rows(entity_name, cells, count)
        self.row_counts[entity.file_name] += count
        return count

    def _write_rows(self, entity_name: str, cells: list[Sequence[str]], count: int) -> None:
        """Write the rows joined by commas, or through csv.writer when a cell needs quoting.

        Joining is about twice as fast as csv.writer and gives the same bytes
        when no cell contains a comma, a double quote or a line break, which
        the counts below prove for the whole block at once.
        """
        text = "\n".join(map(",".join, zip(*cells)))
        plain = (
            text.count(",") == count * (len(cells) - 1)
            and text.count("\n") == count - 1
            and '"' not in text
            and "\r" not in text
        )
        if plain:
            self._handles[entity_name].write(text + "\n")
        else:
            self._writers[entity_name].writerows(zip(*cells))


def _as_list(values: Sequence[str]) -> Sequence[str]:
    """Return the cells as a list, which csv.writer iterates faster than a numpy array."""
    return values.tolist() if isinstance(values, np.ndarray) else values


# Texts of small whole numbers and of four-digit groups, looked up instead of formatted one by one.
SMALL_NUMBERS = 100_000
_SMALL_NUMBER_TEXT = np.array([str(number) for number in range(SMALL_NUMBERS)], dtype=object)
_FOUR_DIGIT_TEXT = np.array([f"{number:04d}" for number in range(10_000)], dtype=object)
_CENTS_TEXT = np.array([f".{cents:02d}" for cents in range(100)], dtype=object)


def _all_small(values: np.ndarray) -> bool:
    return len(values) == 0 or (values.min() >= 0 and values.max() < SMALL_NUMBERS)


def money_text(cents: np.ndarray) -> list[str]:
    """Format non-negative amounts in cents as dollars with two decimals, such as 12.05."""
    dollars, rest = np.divmod(np.asarray(cents, dtype=np.int64), 100)
    if _all_small(dollars):
        return (_SMALL_NUMBER_TEXT[dollars] + _CENTS_TEXT[rest]).tolist()
    return [f"{whole}.{part:02d}" for whole, part in zip(dollars.tolist(), rest.tolist())]


def number_text(values: np.ndarray) -> list[str]:
    """Format whole numbers, such as quantities and line numbers."""
    values = np.asarray(values, dtype=np.int64)
    if _all_small(values):
        return _SMALL_NUMBER_TEXT[values].tolist()
    return [str(value) for value in values.tolist()]


def bool_text(values: np.ndarray) -> list[str]:
    return ["true" if value else "false" for value in np.asarray(values).tolist()]


def codes_text(prefix: str, numbers: np.ndarray, width: int) -> list[str]:
    """Format document numbers such as SO00012345 from a prefix and numbers zero-padded to width digits."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if width <= 4:
        return [f"{prefix}{number:0{width}d}" for number in numbers.tolist()]
    high, low = np.divmod(numbers, 10_000)
    heads, position = np.unique(high, return_inverse=True)
    head_text = np.array([f"{prefix}{head:0{width - 4}d}" for head in heads.tolist()], dtype=object)
    return (head_text[position] + _FOUR_DIGIT_TEXT[low]).tolist()
