"""Mapping files: load foreign ERP exports (CSV and Excel) into the canonical tables without code.

A mapping file (TOML) names the export's encoding, delimiter, date formats
and no-value tokens, and for each canonical entity a row of the export
feeds, one rule per canonical column. docs/mapping-files.md describes the
format; seed_data/mappings contains mappings for real exports.
"""

from services.sync.mapping.convert import reciprocal
from services.sync.mapping.export import sync_export
from services.sync.mapping.rollup import roll_up_receipts, roll_up_shipments
from services.sync.mapping.spec import Mapping, MappingError, load_mapping

__all__ = [
    "Mapping",
    "MappingError",
    "load_mapping",
    "reciprocal",
    "roll_up_receipts",
    "roll_up_shipments",
    "sync_export",
]
