"""The demo distributor generator and example mapping files."""

from seed_data.generator import (
    DemoSize,
    DemoSummary,
    LineKey,
    QualityHold,
    StockInOtherWarehouse,
    SupplierDelay,
    demo_size,
    generate_demo,
)

__all__ = [
    "DemoSize",
    "DemoSummary",
    "LineKey",
    "QualityHold",
    "StockInOtherWarehouse",
    "SupplierDelay",
    "demo_size",
    "generate_demo",
]
