"""Read a frePPLe fixture and load its distribution network as it stood at an as-of date.

frePPLe, an open-source planning system, exports its data as a Django JSON
fixture: a list of {"model", "fields"} records whose natural keys are names.
The connector maps locations, items, customers, suppliers, item suppliers,
item distributions, buffers and demands onto the canonical entities and
loads each entity through the canonical loader as one sync run.
docs/frepple.md lists the mapping and the rules for what frePPLe does not store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine

from services.db import schema
from services.sync.canonical import FileRejected, SourceRecord, SyncResult, file_checksum, load_records
from services.sync.layout import ENTITIES_BY_NAME

logger = logging.getLogger(__name__)

SOURCE = "frepple"

LOCATION = "input.location"
ITEM = "input.item"
CUSTOMER = "input.customer"
SUPPLIER = "input.supplier"
ITEM_SUPPLIER = "input.itemsupplier"
ITEM_DISTRIBUTION = "input.itemdistribution"
BUFFER = "input.buffer"
DEMAND = "input.demand"
PARAMETER = "common.parameter"
KNOWN_MODELS = (
    LOCATION, ITEM, CUSTOMER, SUPPLIER, ITEM_SUPPLIER, ITEM_DISTRIBUTION, BUFFER, DEMAND, PARAMETER,
)

# frePPLe demands carry a due date but no order date. A demand is taken to
# be ordered this many days before it is due, and never after the as-of date.
ORDER_LEAD_DAYS = 14

# The item family when an item has neither a category nor a subcategory.
DEFAULT_FAMILY = "Uncategorized"

# ISO 4217 codes of the symbols frePPLe's "currency" parameter contains.
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
DEFAULT_CURRENCY = "USD"

# Demand statuses of frePPLe (freppledb/input/models/demand.py). Inquiries
# and quotes are not firm orders, so they are quarantined, not loaded.
FIRM_DEMAND_STATUSES = ("open", "closed", "canceled")
NOT_FIRM_DEMAND_STATUSES = ("inquiry", "quote")

# A location, item, customer or supplier named as the owner of another record
# of its model, and named by no record below, is a level of frePPLe's
# hierarchy (such as "All locations") and has no stock, supply or demand.
REFERENCES = {
    LOCATION: ((BUFFER, "location"), (DEMAND, "location"), (ITEM_SUPPLIER, "location"),
               (ITEM_DISTRIBUTION, "location"), (ITEM_DISTRIBUTION, "origin")),
    ITEM: ((BUFFER, "item"), (DEMAND, "item"), (ITEM_SUPPLIER, "item"), (ITEM_DISTRIBUTION, "item")),
    CUSTOMER: ((DEMAND, "customer"),),
    SUPPLIER: ((ITEM_SUPPLIER, "supplier"),),
}

SECONDS_PER_DAY = Decimal(86400)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
# Django's duration_string format, "[-]D HH:MM:SS[.ffffff]", and Python's
# str(timedelta), "D days, H:MM:SS".
_CLOCK_DURATION = re.compile(
    r"^(?:(?P<days>-?\d+) (?:days?, )?)?(?P<hours>\d{1,2}):(?P<minutes>\d{2}):(?P<seconds>\d{2}(?:\.\d{1,6})?)$"
)
# ISO 8601 durations in days, hours, minutes and seconds, as Django parses them.
_ISO_DURATION = re.compile(
    r"^(?P<sign>[-+]?)P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class FixtureRejected(FileRejected):
    """A frePPLe fixture cannot be read as a whole; nothing from it was loaded."""


class InvalidFixtureValue(ValueError):
    """A field of a fixture record cannot be converted; the message names the field and its value."""


# --- Reading the fixture ---------------------------------------------------


@dataclass(frozen=True)
class FixtureRecord:
    """One record of the fixture: its 1-based number in the list, its model and its fields."""

    number: int
    model: str
    fields: dict

    @property
    def position(self) -> str:
        return f"record {self.number}"

    @property
    def name(self) -> str | None:
        return _name_text(self.fields.get("name"))

    def reference(self, field_name: str) -> str | None:
        """Return the name in a foreign key field, written as "item_id" or "item", plain or as a natural key."""
        value = self.fields.get(f"{field_name}_id", self.fields.get(field_name))
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        return _name_text(value)


@dataclass
class FreppleData:
    """The records of one fixture by model, and the count of records of models the connector does not read."""

    file_name: str
    checksum: str
    records: dict[str, list[FixtureRecord]]
    ignored_models: Counter = field(default_factory=Counter)

    def of(self, model: str) -> list[FixtureRecord]:
        return self.records.get(model, [])

    def names(self, model: str) -> set[str]:
        return {record.name for record in self.of(model) if record.name}

    @property
    def parameters(self) -> dict[str, str]:
        return {record.name: record.fields.get("value") for record in self.of(PARAMETER) if record.name}

    def hierarchy_levels(self, model: str) -> set[str]:
        """Return the names of the model's records that own other records and that nothing references."""
        owners = {record.reference("owner") for record in self.of(model)} - {None}
        referenced = {
            record.reference(field_name)
            for referencing_model, field_name in REFERENCES.get(model, ())
            for record in self.of(referencing_model)
        }
        return owners - referenced


def _name_text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def read_frepple_fixture(path: Path | str) -> FreppleData:
    """Parse a frePPLe JSON fixture into its records by model.

    Raises FixtureRejected, naming the file and what was expected, when the
    file cannot be read, is not JSON, or is not a list of model records.
    Records of models the connector does not read are counted in
    ignored_models and logged once per model with their count.
    """
    path = Path(path)
    document = _parse_json(path)
    records = _model_records(document, path.name)

    by_model: dict[str, list[FixtureRecord]] = defaultdict(list)
    ignored: Counter = Counter()
    for record in records:
        if record.model in KNOWN_MODELS:
            by_model[record.model].append(record)
        else:
            ignored[record.model] += 1
    for model, count in sorted(ignored.items()):
        logger.warning(
            "%s: %d records of model %s ignored; the connector reads %s",
            path.name, count, model, ", ".join(KNOWN_MODELS),
        )
    return FreppleData(path.name, file_checksum(path), dict(by_model), ignored)


def _parse_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise FixtureRejected(f"{path} cannot be read ({error.strerror}); name an existing frePPLe JSON fixture") from None
    except UnicodeDecodeError as error:
        raise FixtureRejected(
            f"{path.name} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); "
            "export the frePPLe data again as a JSON fixture"
        ) from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise FixtureRejected(
            f"{path.name} is not JSON ({error.msg} at line {error.lineno} column {error.colno}); "
            "expected a frePPLe fixture: a JSON list of records with model and fields"
        ) from None


def _json_kind(document) -> str:
    if isinstance(document, dict):
        return "object"
    if isinstance(document, str):
        return "string"
    if document is None:
        return "null"
    if isinstance(document, bool):
        return "boolean"
    return "number"


def _model_records(document, file_name: str) -> list[FixtureRecord]:
    """Return the fixture's records; raise FixtureRejected unless the document is a list of model records."""
    if not isinstance(document, list):
        raise FixtureRejected(
            f"{file_name} contains a JSON {_json_kind(document)}, not a list of records; "
            'expected a frePPLe fixture: a JSON list of {"model": ..., "fields": {...}} records'
        )
    if not document:
        raise FixtureRejected(f"{file_name} is an empty list; export the frePPLe data again with its records")
    records = []
    for number, entry in enumerate(document, start=1):
        if not (isinstance(entry, dict) and isinstance(entry.get("model"), str) and isinstance(entry.get("fields"), dict)):
            raise FixtureRejected(
                f"record {number} of {file_name} is not a model record ({json.dumps(entry, default=str)[:80]}); "
                'expected {"model": "input.item", "fields": {...}} with an optional "pk"'
            )
        fields = dict(entry["fields"])
        if "name" not in fields and isinstance(entry.get("pk"), str):
            fields["name"] = entry["pk"]
        records.append(FixtureRecord(number, entry["model"], fields))
    return records


# --- Converting values -----------------------------------------------------


def parse_lead_time(value) -> Decimal:
    """Return a frePPLe duration in seconds.

    Accepts seconds as a number or text ("604800.0"), Django's duration
    format ("7 00:00:00"), Python's timedelta text ("7 days, 0:00:00") and
    ISO 8601 in days, hours, minutes and seconds ("P7D"). A missing lead
    time is 0 seconds, as frePPLe's own database loader reads it. Raises
    InvalidFixtureValue.
    """
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise _invalid_lead_time(value)
    text = str(value).strip()
    if _NUMBER.match(text):
        return Decimal(text)
    clock = _CLOCK_DURATION.match(text)
    if clock:
        days = Decimal(clock["days"] or 0)
        sign = -1 if days < 0 or text.startswith("-") else 1
        parts = abs(days) * SECONDS_PER_DAY + int(clock["hours"]) * 3600 + int(clock["minutes"]) * 60
        return sign * (parts + Decimal(clock["seconds"]))
    iso = _ISO_DURATION.match(text)
    if iso and any(iso[unit] for unit in ("days", "hours", "minutes", "seconds")):
        seconds = sum(
            Decimal(iso[unit] or 0) * factor
            for unit, factor in (("days", SECONDS_PER_DAY), ("hours", 3600), ("minutes", 60), ("seconds", 1))
        )
        return -seconds if iso["sign"] == "-" else seconds
    raise _invalid_lead_time(value)


def _invalid_lead_time(value) -> InvalidFixtureValue:
    return InvalidFixtureValue(
        f"leadtime {str(value)!r} is not a duration; write seconds such as 604800, "
        "a Django duration such as '7 00:00:00' or ISO 8601 such as 'P7D'"
    )


def lead_days(value) -> int:
    """Return a frePPLe lead time in whole days, rounded up, so any positive lead time is at least 1 day."""
    seconds = parse_lead_time(value)
    if seconds < 0:
        raise InvalidFixtureValue(f"leadtime {str(value)!r} is negative; a lead time must be 0 or more")
    return int((seconds / SECONDS_PER_DAY).to_integral_value(rounding=ROUND_CEILING))


def _decimal(field_name: str, value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise InvalidFixtureValue(f"{field_name} {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidFixtureValue(f"{field_name} {value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidFixtureValue(f"{field_name} {value!r} is not a finite number")
    return number


def _instant(field_name: str, value, zone: ZoneInfo) -> datetime | None:
    """Read a fixture date and time; one without an offset is in the business time zone."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidFixtureValue(f"{field_name} {value!r} is not a date and time such as '2020-11-02 00:00:00'") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def fixture_code(name: str, limit: int) -> str:
    """Return the name as a business code of at most limit characters.

    A longer name keeps its first characters and ends in "~" and 8 hex
    digits of its SHA-1, so distinct names stay distinct codes.
    """
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - 9]}~{digest}"


def _limit(table, column: str) -> int:
    return table.c[column].type.length


WAREHOUSE_CODE_LENGTH = _limit(schema.warehouses, "warehouse_code")
SKU_LENGTH = _limit(schema.items, "sku")
FAMILY_LENGTH = _limit(schema.items, "family")
BASE_UNIT_LENGTH = _limit(schema.items, "base_unit")
CUSTOMER_CODE_LENGTH = _limit(schema.customers, "customer_code")
SUPPLIER_CODE_LENGTH = _limit(schema.suppliers, "supplier_code")
ORDER_NUMBER_LENGTH = _limit(schema.sales_order_lines, "order_number")
REGION_LENGTH = _limit(schema.warehouses, "region")


def fixture_currency(parameters: dict[str, str]) -> str:
    """Return the ISO 4217 code of frePPLe's currency parameter, or USD when it is absent or unknown."""
    raw = parameters.get("currency")
    if raw is None:
        return DEFAULT_CURRENCY
    symbol = str(raw).replace(",", "").strip()
    if re.fullmatch(r"[A-Za-z]{3}", symbol):
        return symbol.upper()
    if symbol in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[symbol]
    logger.warning(
        "currency parameter %r is not a known symbol or ISO 4217 code; amounts are loaded as %s",
        raw, DEFAULT_CURRENCY,
    )
    return DEFAULT_CURRENCY


# --- Replay rules ----------------------------------------------------------


def replay_status(status: str, due: date, as_of: date) -> str:
    """Return a firm demand's canonical status as it stood at the end of the as-of date.

    A demand due after the as-of date was still open then. A demand due by
    then was shipped, or cancelled when its frePPLe status is canceled. A
    demand whose frePPLe status is still open was open, and late, at every
    earlier as-of date too.
    """
    if status == "open" or due > as_of:
        return "open"
    if status == "canceled":
        return "cancelled"
    return "shipped"


def replay_order_date(due: date, as_of: date) -> date:
    """Return a demand's order date: ORDER_LEAD_DAYS before its due date, but never after the as-of date."""
    return min(due - timedelta(days=ORDER_LEAD_DAYS), as_of)


def effective_at(record: FixtureRecord, moment: datetime, zone: ZoneInfo) -> bool:
    """Return whether an item supplier or distribution is valid at the moment: effective_start <= moment < effective_end."""
    start = _instant("effective_start", record.fields.get("effective_start"), zone)
    end = _instant("effective_end", record.fields.get("effective_end"), zone)
    return (start is None or start <= moment) and (end is None or moment < end)


# --- Mapping records onto canonical entities -------------------------------


@dataclass
class _Context:
    """Inputs of every mapping: the fixture, the as-of date and the values derived from them."""

    data: FreppleData
    as_of: date
    zone: ZoneInfo
    time_zone_name: str
    stamp: datetime
    currency: str

    @cached_property
    def item_names(self) -> set[str]:
        return self.data.names(ITEM)

    @cached_property
    def location_names(self) -> set[str]:
        return self.data.names(LOCATION)

    @property
    def stamp_text(self) -> str:
        return self.stamp.isoformat()

    def lineage(self, key: str) -> dict:
        return {"source_key": key, "source_updated_at": self.stamp_text}

    def warehouse_code(self, name: str | None) -> str:
        return fixture_code(name, WAREHOUSE_CODE_LENGTH) if name else ""

    def sku(self, name: str | None) -> str:
        return fixture_code(name, SKU_LENGTH) if name else ""


def _texts(values: dict) -> dict:
    """Return the values as the raw text the canonical loader reads, with None as an empty cell."""
    return {key: "" if value is None else str(value) for key, value in values.items()}


def _missing_reference(record: FixtureRecord, field_name: str, model: str, names: set[str]) -> str | None:
    name = record.reference(field_name)
    if name is None:
        return f"{record.model} {record.position} names no {field_name}; every {record.model} needs one"
    if name not in names:
        return (
            f"{field_name} {name!r} is not in the fixture; add it as an {model} record "
            f"or correct the {record.model} {record.position}"
        )
    return None


def _unnamed(record: FixtureRecord) -> str:
    return f"{record.model} {record.position} has no name; give every {record.model} record a name"


def warehouse_records(context: _Context) -> list[SourceRecord]:
    """Map locations to warehouses in the business time zone, because frePPLe locations have no time zone."""
    levels = context.data.hierarchy_levels(LOCATION)
    records = []
    for record in context.data.of(LOCATION):
        name = record.name
        if name in levels:
            continue
        region = _name_text(record.fields.get("category"))
        values = {
            "warehouse_code": context.warehouse_code(name),
            "name": _name_text(record.fields.get("description")) or name,
            "time_zone": context.time_zone_name,
            "region": fixture_code(region, REGION_LENGTH) if region else None,
            **context.lineage(name or ""),
        }
        records.append(SourceRecord(record.position, _texts(values), None if name else _unnamed(record)))
    return records


def customer_records(context: _Context) -> list[SourceRecord]:
    """Map customers, and the customers demands name without a customer record, to standard-tier customers."""
    levels = context.data.hierarchy_levels(CUSTOMER)
    records = []
    seen = set()
    for record in context.data.of(CUSTOMER):
        name = record.name
        if name in levels:
            continue
        seen.add(name)
        records.append(SourceRecord(record.position, _customer_values(context, name), None if name else _unnamed(record)))
    for record in context.data.of(DEMAND):
        name = record.reference("customer")
        if name and name not in seen:
            seen.add(name)
            records.append(SourceRecord(f"customer of {record.position}", _customer_values(context, name)))
    return records


def _customer_values(context: _Context, name: str | None) -> dict:
    values = {
        "customer_code": fixture_code(name, CUSTOMER_CODE_LENGTH) if name else "",
        "name": name,
        "tier": "standard",
        "currency": context.currency,
        **context.lineage(name or ""),
    }
    return _texts(values)


def supplier_records(context: _Context, supplier_lead_days: dict[str, int]) -> list[SourceRecord]:
    """Map suppliers, and the suppliers item suppliers name without a supplier record, to suppliers.

    A supplier's default lead time is the longest lead time of its item
    suppliers, or the canonical default when it has none.
    """
    levels = context.data.hierarchy_levels(SUPPLIER)
    records = []
    seen = set()
    for record in context.data.of(SUPPLIER):
        name = record.name
        if name in levels:
            continue
        seen.add(name)
        values = _supplier_values(context, name, supplier_lead_days)
        records.append(SourceRecord(record.position, values, None if name else _unnamed(record)))
    for record in context.data.of(ITEM_SUPPLIER):
        name = record.reference("supplier")
        if name and name not in seen:
            seen.add(name)
            values = _supplier_values(context, name, supplier_lead_days)
            records.append(SourceRecord(f"supplier of {record.position}", values))
    return records


def _supplier_values(context: _Context, name: str | None, supplier_lead_days: dict[str, int]) -> dict:
    values = {
        "supplier_code": fixture_code(name, SUPPLIER_CODE_LENGTH) if name else "",
        "name": name,
        "default_lead_days": supplier_lead_days.get(name),
        "currency": context.currency,
        **context.lineage(name or ""),
    }
    return _texts(values)


def item_records(context: _Context) -> list[SourceRecord]:
    """Map items to items; unit cost and list price are both frePPLe's item cost, which has no selling price."""
    levels = context.data.hierarchy_levels(ITEM)
    records = []
    for record in context.data.of(ITEM):
        name = record.name
        if name in levels:
            continue
        values, reason = _item_values(context, record)
        records.append(SourceRecord(record.position, values, reason))
    return records


def _item_values(context: _Context, record: FixtureRecord) -> tuple[dict, str | None]:
    name = record.name
    fields = record.fields
    family = _name_text(fields.get("category")) or _name_text(fields.get("subcategory")) or DEFAULT_FAMILY
    unit = _name_text(fields.get("uom"))
    values = {
        "sku": context.sku(name),
        "description": _name_text(fields.get("description")) or name,
        "family": fixture_code(family, FAMILY_LENGTH),
        "base_unit": unit,
        "unit_cost": fields.get("cost"),
        "list_price": fields.get("cost"),
        "currency": context.currency,
        **context.lineage(name or ""),
    }
    reason = None
    if not name:
        reason = _unnamed(record)
    elif unit and len(unit) > BASE_UNIT_LENGTH:
        reason = f"uom {unit!r} is longer than {BASE_UNIT_LENGTH} characters; use a short unit code such as EA"
    elif fields.get("cost") is None:
        values["unit_cost"] = values["list_price"] = "0"
        logger.warning("item %r (%s) has no cost; it is loaded with cost and list price 0", name, record.position)
    return _texts(values), reason


def _item_costs(data: FreppleData) -> dict[str, str]:
    return {record.name: str(record.fields.get("cost") or 0) for record in data.of(ITEM) if record.name}


def supplier_item_records(context: _Context) -> list[SourceRecord]:
    """Map item suppliers valid at the as-of date to supplier items with lead times in whole days."""
    records = []
    skipped = 0
    for record in context.data.of(ITEM_SUPPLIER):
        try:
            if not effective_at(record, context.stamp, context.zone):
                skipped += 1
                continue
        except InvalidFixtureValue as error:
            records.append(SourceRecord(record.position, _texts(record.fields), str(error)))
            continue
        records.append(_supplier_item(context, record))
    if skipped:
        logger.info("%d item suppliers are not effective at %s and are not loaded", skipped, context.as_of)
    return records


def _supplier_item(context: _Context, record: FixtureRecord) -> SourceRecord:
    fields = record.fields
    supplier, item, location = (record.reference(name) for name in ("supplier", "item", "location"))
    multiple = fields.get("sizemultiple")
    values = {
        "supplier_code": fixture_code(supplier, SUPPLIER_CODE_LENGTH) if supplier else "",
        "sku": context.sku(item),
        "warehouse_code": context.warehouse_code(location),
        "lead_days": fields.get("leadtime"),
        # frePPLe's own database loader sets a size multiple only when it is
        # neither missing nor zero, so either means any quantity: a multiple of 1.
        "order_multiple": multiple if multiple not in (None, "", 0) else 1,
        "min_order_qty": fields.get("sizeminimum") if fields.get("sizeminimum") is not None else 0,
        "unit_cost": fields.get("cost"),
        "priority": fields.get("priority"),
        **context.lineage(f"{supplier}/{item}/{location or ''}"),
    }
    reasons = [
        None if supplier else f"{record.model} {record.position} names no supplier; every item supplier needs one",
        _missing_reference(record, "item", ITEM, context.item_names),
        _missing_reference(record, "location", LOCATION, context.location_names) if location else None,
    ]
    try:
        values["lead_days"] = lead_days(fields.get("leadtime"))
    except InvalidFixtureValue as error:
        reasons.append(str(error))
    reason = "; ".join(reason for reason in reasons if reason) or None
    return SourceRecord(record.position, _texts(values), reason)


def transfer_lane_records(context: _Context) -> list[SourceRecord]:
    """Map item distributions to one transfer lane per origin and destination.

    The canonical lane has no item, so a lane takes the longest lead time
    and the highest cost per unit of the item distributions valid on it at
    the as-of date. An invalid item distribution is quarantined on its own.
    """
    lanes: dict[tuple[str, str], list[tuple[FixtureRecord, int, Decimal]]] = defaultdict(list)
    records = []
    for record in context.data.of(ITEM_DISTRIBUTION):
        try:
            if not effective_at(record, context.stamp, context.zone):
                continue
            days, cost, reason = _distribution_terms(context, record)
        except InvalidFixtureValue as error:
            days, cost, reason = None, None, str(error)
        origin, destination = record.reference("origin"), record.reference("location")
        if reason:
            fields = record.fields
            values = _lane_values(context, origin, destination, fields.get("leadtime"), fields.get("cost"))
            records.append(SourceRecord(record.position, values, reason))
            continue
        lanes[(origin, destination)].append((record, days, cost))
    for (origin, destination), members in lanes.items():
        days = max(member[1] for member in members)
        cost = max(member[2] for member in members)
        first = members[0][0]
        position = first.position if len(members) == 1 else f"{len(members)} item distributions from {first.position}"
        records.append(SourceRecord(position, _lane_values(context, origin, destination, days, cost)))
    return records


def _distribution_terms(context: _Context, record: FixtureRecord) -> tuple[int | None, Decimal | None, str | None]:
    reasons = [
        _missing_reference(record, "origin", LOCATION, context.location_names),
        _missing_reference(record, "location", LOCATION, context.location_names),
        _missing_reference(record, "item", ITEM, context.item_names),
    ]
    days = cost = None
    try:
        days = lead_days(record.fields.get("leadtime"))
        cost = _decimal("cost", record.fields.get("cost")) or Decimal(0)
    except InvalidFixtureValue as error:
        reasons.append(str(error))
    reason = "; ".join(reason for reason in reasons if reason) or None
    return days, cost, reason


def _lane_values(context: _Context, origin: str | None, destination: str | None, days, cost) -> dict:
    values = {
        "from_warehouse_code": context.warehouse_code(origin),
        "to_warehouse_code": context.warehouse_code(destination),
        "lead_days": days,
        "cost_per_unit": cost if cost is not None else 0,
        "currency": context.currency,
        **context.lineage(f"{origin}/{destination}"),
    }
    return _texts(values)


def inventory_records(context: _Context) -> list[SourceRecord]:
    """Map buffers to inventory as of the end of the as-of date, summing the batches of one item and location.

    NOTE: the fixture contains one stock snapshot, taken at frePPLe's
    current date. Replay does not roll it back to the as-of date.
    """
    groups: dict[tuple[str, str], list[tuple[FixtureRecord, Decimal]]] = defaultdict(list)
    records = []
    for record in context.data.of(BUFFER):
        item, location = record.reference("item"), record.reference("location")
        reasons = [
            _missing_reference(record, "item", ITEM, context.item_names),
            _missing_reference(record, "location", LOCATION, context.location_names),
        ]
        try:
            on_hand = _decimal("onhand", record.fields.get("onhand")) or Decimal(0)
        except InvalidFixtureValue as error:
            on_hand = record.fields.get("onhand")
            reasons.append(str(error))
        reason = "; ".join(reason for reason in reasons if reason)
        if reason:
            records.append(SourceRecord(record.position, _inventory_values(context, item, location, on_hand), reason))
            continue
        groups[(item, location)].append((record, on_hand))
    for (item, location), members in groups.items():
        first = members[0][0]
        position = first.position if len(members) == 1 else f"{len(members)} buffers from {first.position}"
        on_hand = sum((member[1] for member in members), Decimal(0))
        records.append(SourceRecord(position, _inventory_values(context, item, location, on_hand)))
    return records


def _inventory_values(context: _Context, item: str | None, location: str | None, on_hand) -> dict:
    values = {
        "sku": context.sku(item),
        "warehouse_code": context.warehouse_code(location),
        "on_hand_qty": on_hand,
        "as_of": context.stamp_text,
        **context.lineage(f"{item} @ {location}"),
    }
    return _texts(values)


def sales_order_line_records(context: _Context) -> list[SourceRecord]:
    """Map firm demands to sales order lines, shipped or open as they stood at the as-of date."""
    costs = _item_costs(context.data)
    return [_order_line(context, record, costs) for record in context.data.of(DEMAND)]


def _order_line(context: _Context, record: FixtureRecord, costs: dict[str, str]) -> SourceRecord:
    fields = record.fields
    name, item, location = record.name, record.reference("item"), record.reference("location")
    customer = record.reference("customer")
    status = _name_text(fields.get("status")) or "open"
    values = {
        "order_number": fixture_code(name, ORDER_NUMBER_LENGTH) if name else "",
        "line_number": 1,
        "customer_code": fixture_code(customer, CUSTOMER_CODE_LENGTH) if customer else "",
        "sku": context.sku(item),
        "warehouse_code": context.warehouse_code(location),
        "ordered_qty": fields.get("quantity"),
        "unit_price": costs.get(item),
        "unit_cost": costs.get(item),
        "currency": context.currency,
        **context.lineage(name or ""),
    }
    reasons = [
        None if name else _unnamed(record),
        None if customer else f"{record.model} {record.position} names no customer; every demand needs one",
        _missing_reference(record, "item", ITEM, context.item_names),
        _missing_reference(record, "location", LOCATION, context.location_names),
        _status_problem(status),
    ]
    try:
        reasons.append(_replay_values(context, values, status, fields))
    except InvalidFixtureValue as error:
        reasons.append(str(error))
    reason = "; ".join(reason for reason in reasons if reason) or None
    return SourceRecord(record.position, _texts(values), reason)


def _status_problem(status: str) -> str | None:
    if status in FIRM_DEMAND_STATUSES:
        return None
    if status in NOT_FIRM_DEMAND_STATUSES:
        return f"status {status!r} is not a firm order; only open, closed and canceled demands are order lines"
    known = ", ".join(FIRM_DEMAND_STATUSES + NOT_FIRM_DEMAND_STATUSES)
    return f"status {status!r} is not a frePPLe demand status; expected one of {known}"


def _replay_values(context: _Context, values: dict, status: str, fields: dict) -> str | None:
    """Fill the dates, status and quantities of an order line at the as-of date; return a reason when it is invalid."""
    due_at = _instant("due", fields.get("due"), context.zone)
    quantity = _decimal("quantity", fields.get("quantity"))
    if due_at is None:
        return "due is missing; every demand needs a due date"
    if quantity is None:
        return "quantity is missing; every demand needs a quantity"
    if quantity < 0:
        return f"quantity {fields.get('quantity')} is negative; a demand quantity must be 0 or more"
    due = due_at.date()
    line_status = replay_status(status, due, context.as_of)
    values.update(
        order_date=replay_order_date(due, context.as_of),
        requested_date=due,
        first_promised_date=due,
        current_promised_date=due,
        status=line_status,
        shipped_qty=quantity if line_status == "shipped" else 0,
        cancelled_qty=quantity if line_status == "cancelled" else 0,
    )
    return None


# --- The use case ----------------------------------------------------------


def _supplier_lead_days(context: _Context) -> dict[str, int]:
    longest: dict[str, int] = {}
    for record in context.data.of(ITEM_SUPPLIER):
        supplier = record.reference("supplier")
        try:
            days = lead_days(record.fields.get("leadtime"))
        except InvalidFixtureValue:
            continue
        if supplier:
            longest[supplier] = max(days, longest.get(supplier, 0))
    return longest


def map_fixture(data: FreppleData, *, as_of: date, business_timezone: str) -> list[tuple[str, list[SourceRecord]]]:
    """Return the canonical records of every entity, in the order they must be loaded."""
    zone = _zone(business_timezone)
    stamp = datetime.combine(as_of, time(23, 59, 59), tzinfo=zone)
    context = _Context(data, as_of, zone, business_timezone, stamp, fixture_currency(data.parameters))
    _log_hierarchy_levels(data)
    return [
        ("warehouses", warehouse_records(context)),
        ("customers", customer_records(context)),
        ("suppliers", supplier_records(context, _supplier_lead_days(context))),
        ("items", item_records(context)),
        ("supplier_items", supplier_item_records(context)),
        ("transfer_lanes", transfer_lane_records(context)),
        ("inventory", inventory_records(context)),
        ("sales_order_lines", sales_order_line_records(context)),
    ]


def _zone(business_timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(business_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"business time zone {business_timezone!r} is not an IANA time zone; pass one such as Europe/Brussels"
        ) from None


def _log_hierarchy_levels(data: FreppleData) -> None:
    for model in (LOCATION, ITEM, CUSTOMER, SUPPLIER):
        levels = data.hierarchy_levels(model)
        if levels:
            logger.info(
                "%s: %d %s records are hierarchy levels with no stock, supply or demand and are not loaded: %s",
                data.file_name, len(levels), model, ", ".join(sorted(levels)),
            )


def sync_frepple(engine: Engine, path: Path | str, *, as_of: date, business_timezone: str = "UTC") -> list[SyncResult]:
    """Load a frePPLe fixture replayed at the as-of date, one sync run per entity, masters first.

    Demands due after the as-of date become open order lines, earlier ones
    history. Every record is keyed by source "frepple" and its frePPLe name.
    Its source timestamp is the end of the as-of date. So a replay at a later
    date updates the rows of an earlier one, and a replay at an earlier date
    changes nothing. Raises FixtureRejected before loading anything when the
    file is not a fixture, and ValueError for an invalid time zone.
    """
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise TypeError(f"as_of={as_of!r} is not a date; pass a datetime.date such as date(2020, 11, 2)")
    data = read_frepple_fixture(path)
    batches = map_fixture(data, as_of=as_of, business_timezone=business_timezone)

    results = [
        load_records(
            engine,
            ENTITIES_BY_NAME[entity_name],
            records,
            source=SOURCE,
            file_name=data.file_name,
            checksum=data.checksum,
            business_timezone=business_timezone,
        )
        for entity_name, records in batches
    ]

    logger.info(
        "%s replayed at %s: %s",
        data.file_name, as_of.isoformat(),
        ", ".join(f"{result.entity} read {result.read} rejected {result.rejected}" for result in results),
    )
    return results


__all__ = [
    "FixtureRecord",
    "FixtureRejected",
    "FreppleData",
    "InvalidFixtureValue",
    "lead_days",
    "map_fixture",
    "parse_lead_time",
    "read_frepple_fixture",
    "replay_order_date",
    "replay_status",
    "sync_frepple",
]
