"""Recognising what a file is, so `control-tower sync` picks the right connector."""

from __future__ import annotations

from datetime import date

import pytest

from services.sync.sources import BUILT_IN_MAPPINGS, classify, frepple_current_date

FOLDERS = [BUILT_IN_MAPPINGS]


@pytest.mark.parametrize(
    "name, content, kind",
    [
        ("2026-03-02_sales_order_lines.csv", "order_number,line_number\n", "canonical"),
        ("fixture.json", '[{"model": "input.item", "fields": {"name": "A"}}]', "frepple"),
        ("po_ack.edi", "ISA*00*          *00*          *ZZ*A*ZZ*B*260302*1200*U*00401*000000001*0*P*>~GS*PR*A*B~ST*855*0001~", "edi-855"),
        ("asn.txt", "ISA*00*          *00*          *ZZ*A*ZZ*B*260302*1200*U*00401*000000002*0*P*>~GS*SH*A*B~ST*856*0001~", "edi-856"),
        ("ordrsp.edi", "UNA:+.? 'UNB+UNOC:3+A+B+260302:1200+1'UNH+1+ORDRSP:D:96A:UN'", "edi-ordrsp"),
    ],
)
def test_file_kind_is_recognised(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert classify(path, FOLDERS) == (kind, "")


def test_export_is_matched_to_mapping_by_its_columns(tmp_path):
    path = tmp_path / "orders_export.csv"
    header = (BUILT_IN_MAPPINGS / "dataco_orders.toml").read_text()
    assert "Order Id" in header
    from services.sync.mapping import load_mapping

    mapping = load_mapping(BUILT_IN_MAPPINGS / "dataco_orders.toml")
    columns = sorted({name for target in mapping.targets for name in target.foreign_columns()})
    path.write_text(",".join(f'"{name}"' for name in columns) + "\n", encoding="latin-1")

    kind, detail = classify(path, FOLDERS)

    assert kind == "export"
    assert detail == str(BUILT_IN_MAPPINGS / "dataco_orders.toml")


def test_unknown_csv_is_skipped_with_the_fix(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")

    kind, detail = classify(path, FOLDERS)

    assert kind == "skipped"
    assert detail.startswith("neither a canonical file name nor an export any mapping file matches")


def test_frepple_replay_defaults_to_fixture_current_date(tmp_path):
    path = tmp_path / "fixture.json"
    path.write_text(
        '[{"model": "common.parameter", "fields": {"name": "currentdate", "value": "2021-02-01 00:00:00"}}]',
        encoding="utf-8",
    )

    assert frepple_current_date(path) == date(2021, 2, 1)
