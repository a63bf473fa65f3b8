"""Read and check a mapping file: how a foreign export's columns become canonical records.

A mapping file is TOML with an [export] section that describes the file
(encoding, delimiter, date formats, tokens that mean "no value") and one
[target.<entity>] section per canonical entity that a row of the export
feeds. docs/mapping-files.md describes the format with a worked example.
"""

from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from services.sync.layout import ENTITIES, ENTITIES_BY_NAME, LINEAGE_COLUMNS, Column, Entity
from services.sync.mapping.formula import Formula, FormulaError, placeholders

EXPORT_KEYS = {
    "source", "format", "encoding", "delimiter", "sheet", "date_formats",
    "no_value", "thousands_separator", "decimal_separator",
}
TARGET_KEYS = {"when", "columns"}
RULE_SOURCES = ("column", "constant", "template", "formula")
RULE_KEYS = set(RULE_SOURCES) | {
    "fallback", "map", "default", "formats", "add_days", "reciprocal", "shorten", "when", "otherwise",
}
CONDITION_KEYS = {"column", "present", "in", "not_in"}
FORMATS = ("csv", "xlsx")

# Entities whose records repeat on many rows of an export (one supplier named
# on every line of its orders). Identical repeats of their records are
# loaded once.
MASTER_ENTITIES = frozenset(
    {"warehouses", "customers", "suppliers", "items", "units", "supplier_items", "substitutes", "transfer_lanes"}
)

LINEAGE_KINDS = {"source_key": "text", "source_updated_at": "timestamp"}


class MappingError(ValueError):
    """A mapping file is invalid; the message names the file, the place and the fix."""


@dataclass(frozen=True)
class Condition:
    """A test on one foreign column of a row: has a value, or has one of a set of values."""

    column: str
    present: bool | None = None
    values_in: frozenset[str] | None = None
    values_not_in: frozenset[str] | None = None


@dataclass(frozen=True)
class Rule:
    """How one canonical column takes its value from a row of the export."""

    name: str
    kind: str
    required: bool
    column: str | None = None
    fallback: tuple[str, ...] = ()
    constant: str | None = None
    template: str | None = None
    formula: Formula | None = None
    value_map: dict[str, str] | None = None
    default: str | None = None
    formats: tuple[str, ...] | None = None
    add_days: str | None = None
    reciprocal: bool = False
    shorten: bool = False
    when: Condition | None = None
    otherwise: str | None = None

    def foreign_columns(self) -> list[str]:
        """Return every foreign column the rule reads, in the order it reads them."""
        names = []
        if self.when:
            names.append(self.when.column)
        if self.column:
            names += [self.column, *self.fallback]
        if self.template:
            names += placeholders(self.template)
        if self.formula:
            names += self.formula.columns
        if self.add_days:
            names.append(self.add_days)
        return names


@dataclass(frozen=True)
class Target:
    """One canonical entity fed by the export, with its row filter and column rules."""

    entity: Entity
    rules: tuple[Rule, ...]
    when: Condition | None = None

    @property
    def repeats_records(self) -> bool:
        return self.entity.name in MASTER_ENTITIES

    @property
    def has_time_rules(self) -> bool:
        return any(rule.kind in ("date", "timestamp") for rule in self.rules)

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def foreign_columns(self) -> list[str]:
        names = [self.when.column] if self.when else []
        for rule in self.rules:
            names += rule.foreign_columns()
        return names


@dataclass(frozen=True)
class ExportFormat:
    """How the export file is written."""

    source: str
    format: str | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    sheet: str | None = None
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    no_value: frozenset[str] = frozenset()
    thousands_separator: str = ""
    decimal_separator: str = "."


@dataclass(frozen=True)
class Mapping:
    """A checked mapping file; its targets are in load order, masters first."""

    path: Path
    export: ExportFormat
    targets: tuple[Target, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.path.name

    def target(self, entity_name: str) -> Target | None:
        return next((target for target in self.targets if target.entity.name == entity_name), None)


def load_mapping(path: Path) -> Mapping:
    """Read a mapping file and check it; raise MappingError naming the first problem found."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist; give the path of a .toml mapping file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise MappingError(f"{path.name} is not valid TOML: {error}") from None

    _reject_unknown(path.name, "the top level", document, {"export", "target", "maps"})
    maps = _read_maps(path.name, document.get("maps", {}))
    export = _read_export(path.name, document.get("export"))
    targets = _read_targets(path.name, document.get("target"), maps)
    return Mapping(path=path, export=export, targets=targets)


def _reject_unknown(file_name: str, place: str, table: dict, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise MappingError(
            f"{file_name}: {place} has unknown key {', '.join(unknown)}; allowed keys: {', '.join(sorted(allowed))}"
        )


def _text_list(file_name: str, place: str, value, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MappingError(f"{file_name}: {place} must be a list of strings, such as [\"N/A\"], not {value!r}")
    return tuple(value)


def _read_maps(file_name: str, maps) -> dict[str, dict[str, str]]:
    if not isinstance(maps, dict):
        raise MappingError(f"{file_name}: [maps] must be a table of named value maps")
    return {name: _value_map(file_name, f"[maps.{name}]", table) for name, table in maps.items()}


def _value_map(file_name: str, place: str, table) -> dict[str, str]:
    if not isinstance(table, dict) or not table:
        raise MappingError(f"{file_name}: {place} must be a table of codes and their canonical values")
    for code, value in table.items():
        if not isinstance(value, (str, int, float, bool)):
            raise MappingError(f"{file_name}: {place} maps {code!r} to {value!r}; map each code to a text or number")
    return {code: _scalar_text(value) for code, value in table.items()}


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_export(file_name: str, section) -> ExportFormat:
    if not isinstance(section, dict):
        raise MappingError(f"{file_name} has no [export] section; add one with at least source = \"<system name>\"")
    _reject_unknown(file_name, "[export]", section, EXPORT_KEYS)

    source = section.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 64:
        raise MappingError(
            f"{file_name}: [export] source must name the system the export comes from in 1 to 64 characters, "
            f"not {source!r}"
        )

    export_format = section.get("format")
    if export_format is not None and export_format not in FORMATS:
        raise MappingError(f"{file_name}: [export] format {export_format!r} is not one of {', '.join(FORMATS)}")

    encoding = section.get("encoding", "utf-8-sig")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise MappingError(
            f"{file_name}: [export] encoding {encoding!r} is not a known text encoding; write one such as "
            "\"utf-8-sig\", \"latin-1\" or \"cp1252\""
        ) from None

    sheet = section.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        raise MappingError(f"{file_name}: [export] sheet must be the name of a worksheet, not {sheet!r}")

    delimiter = section.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise MappingError(f"{file_name}: [export] delimiter must be one character, such as \",\" or \";\", not {delimiter!r}")

    return ExportFormat(
        source=source.strip(),
        format=export_format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        date_formats=_text_list(file_name, "[export] date_formats", section.get("date_formats"), ("%Y-%m-%d",)),
        no_value=frozenset(_text_list(file_name, "[export] no_value", section.get("no_value"))),
        thousands_separator=_separator(file_name, "thousands_separator", section.get("thousands_separator", "")),
        decimal_separator=_separator(file_name, "decimal_separator", section.get("decimal_separator", ".")) or ".",
    )


def _separator(file_name: str, key: str, value) -> str:
    if not isinstance(value, str) or len(value) > 1:
        raise MappingError(f"{file_name}: [export] {key} must be one character or empty, not {value!r}")
    return value


def _read_targets(file_name: str, section, maps: dict) -> tuple[Target, ...]:
    if not isinstance(section, dict) or not section:
        raise MappingError(
            f"{file_name} has no [target.<entity>] section; add one per canonical entity the export feeds, "
            f"such as [target.items]"
        )
    targets = []
    for entity_name, table in section.items():
        entity = ENTITIES_BY_NAME.get(entity_name)
        if entity is None:
            raise MappingError(
                f"{file_name}: [target.{entity_name}] is not a canonical entity; use one of "
                f"{', '.join(e.name for e in ENTITIES)}"
            )
        targets.append(_read_target(file_name, entity, table, maps))
    order = {entity.name: position for position, entity in enumerate(ENTITIES)}
    return tuple(sorted(targets, key=lambda target: order[target.entity.name]))


def _read_target(file_name: str, entity: Entity, table, maps: dict) -> Target:
    place = f"[target.{entity.name}]"
    if not isinstance(table, dict):
        raise MappingError(f"{file_name}: {place} must be a table")
    _reject_unknown(file_name, place, table, TARGET_KEYS)
    columns = table.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(f"{file_name}: {place} has no [target.{entity.name}.columns] table of column rules")

    rules = tuple(_read_rule(file_name, entity, name, spec, maps) for name, spec in columns.items())
    ruled_columns = {rule.name for rule in rules}
    missing = [name for name in entity.required_columns if name not in ruled_columns]
    if missing:
        raise MappingError(
            f"{file_name}: {place} gives no rule for the required column {', '.join(missing)}; "
            "add one under its columns table"
        )
    when = _read_condition(file_name, f"{place} when", table["when"]) if "when" in table else None
    return Target(entity=entity, rules=rules, when=when)


def _canonical_column(file_name: str, entity: Entity, name: str) -> tuple[str, bool]:
    """Return the kind of a canonical column and whether it is required."""
    if name in LINEAGE_COLUMNS:
        return LINEAGE_KINDS[name], False
    try:
        column: Column = entity.column(name)
    except KeyError:
        known = ", ".join([c.name for c in entity.columns] + list(LINEAGE_COLUMNS))
        raise MappingError(f"{file_name}: {entity.name} has no column {name!r}; its columns are {known}") from None
    return column.kind, column.required


def _read_rule(file_name: str, entity: Entity, name: str, spec, maps: dict) -> Rule:
    place = f"[target.{entity.name}.columns] {name}"
    kind, required = _canonical_column(file_name, entity, name)
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"{file_name}: {place} must be a column name or an inline table such as {{ column = \"...\" }}")
    _reject_unknown(file_name, place, spec, RULE_KEYS)
    sources = [key for key in RULE_SOURCES if key in spec]
    if len(sources) != 1:
        raise MappingError(
            f"{file_name}: {place} needs exactly one of {', '.join(RULE_SOURCES)}, but has "
            f"{', '.join(sources) or 'none'}"
        )

    for key in ("column", "template", "add_days", "default", "otherwise"):
        if key in spec and not isinstance(spec[key], str):
            raise MappingError(f"{file_name}: {place} {key} must be a string, not {spec[key]!r}")
    if "constant" in spec and not isinstance(spec["constant"], (str, int, float, bool)):
        raise MappingError(f"{file_name}: {place} constant must be a text or a number, not {spec['constant']!r}")
    _check_kind_options(file_name, place, kind, spec)

    return Rule(
        name=name,
        kind=kind,
        required=required,
        column=spec.get("column"),
        fallback=_text_list(file_name, f"{place} fallback", spec.get("fallback")),
        constant=_scalar_text(spec["constant"]) if "constant" in spec else None,
        template=spec.get("template"),
        formula=_read_formula(file_name, place, spec.get("formula")),
        value_map=_rule_map(file_name, place, spec.get("map"), maps),
        default=spec.get("default"),
        formats=_text_list(file_name, f"{place} formats", spec.get("formats")) or None,
        add_days=spec.get("add_days"),
        reciprocal=_flag(file_name, place, spec, "reciprocal"),
        shorten=_flag(file_name, place, spec, "shorten"),
        when=_read_condition(file_name, f"{place} when", spec["when"]) if "when" in spec else None,
        otherwise=spec.get("otherwise"),
    )


def _check_kind_options(file_name: str, place: str, kind: str, spec: dict) -> None:
    """Reject options that do not apply to the canonical column's type."""
    allowed_by_option = {
        "formats": ("date", "timestamp"),
        "add_days": ("date",),
        "reciprocal": ("decimal", "int"),
        "formula": ("decimal", "int"),
        "shorten": ("text",),
    }
    for option, kinds in allowed_by_option.items():
        if option in spec and kind not in kinds:
            raise MappingError(
                f"{file_name}: {place} is a {kind} column, and {option} applies only to {' or '.join(kinds)} columns"
            )
    if "fallback" in spec and "column" not in spec:
        raise MappingError(f"{file_name}: {place} fallback needs a column to fall back from")
    if "default" in spec and "map" not in spec:
        raise MappingError(f"{file_name}: {place} default applies to codes missing from a map; add the map")
    if "otherwise" in spec and "when" not in spec:
        raise MappingError(f"{file_name}: {place} otherwise applies when the rule's condition fails; add when")


def _flag(file_name: str, place: str, spec: dict, key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise MappingError(f"{file_name}: {place} {key} must be true or false, not {value!r}")
    return value


def _read_formula(file_name: str, place: str, text) -> Formula | None:
    if text is None:
        return None
    try:
        return Formula(text)
    except FormulaError as error:
        raise MappingError(f"{file_name}: {place} formula {text!r} is invalid: {error}") from None


def _rule_map(file_name: str, place: str, value, maps: dict) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in maps:
            raise MappingError(
                f"{file_name}: {place} names the map {value!r}, but there is no [maps.{value}] table; add it"
            )
        return maps[value]
    return _value_map(file_name, f"{place} map", value)


def _read_condition(file_name: str, place: str, spec) -> Condition:
    if not isinstance(spec, dict):
        raise MappingError(f"{file_name}: {place} must be an inline table such as {{ column = \"...\", present = true }}")
    _reject_unknown(file_name, place, spec, CONDITION_KEYS)
    column = spec.get("column")
    if not isinstance(column, str):
        raise MappingError(f"{file_name}: {place} needs the column it tests")
    tests = [key for key in ("present", "in", "not_in") if key in spec]
    if len(tests) != 1:
        raise MappingError(f"{file_name}: {place} needs exactly one of present, in, not_in")
    if "present" in spec and not isinstance(spec["present"], bool):
        raise MappingError(f"{file_name}: {place} present must be true or false")
    values_in = _text_list(file_name, f"{place} in", spec.get("in")) if "in" in spec else None
    values_not_in = _text_list(file_name, f"{place} not_in", spec.get("not_in")) if "not_in" in spec else None
    return Condition(
        column=column,
        present=spec.get("present"),
        values_in=frozenset(values_in) if values_in is not None else None,
        values_not_in=frozenset(values_not_in) if values_not_in is not None else None,
    )
