"""The small demo distributor that page tests read: generated, loaded, netted and optionally forecast."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from seed_data import generate_demo
from services.exposure.recompute import recompute_exposure
from services.sync.canonical import load_canonical_folder

DEMO_AS_OF = date(2026, 3, 2)
DEMO_LINES = 2_000


def load_small_demo(engine, folder: Path, *, forecasts: bool = False) -> None:
    """Generate 2,000 open lines as of Monday 2 March 2026, load them, recompute exposure and, when asked, forecast ETAs."""
    generate_demo(folder, seed=7, lines=DEMO_LINES, as_of=DEMO_AS_OF)
    load_canonical_folder(engine, folder, source="demo")
    if forecasts:
        from services.forecast.models import ProphetPolicy
        from services.forecast.refresh import refresh_forecasts

        refresh_forecasts(engine, as_of=DEMO_AS_OF, workers=1, prophet=ProphetPolicy.NEVER)
    recompute_exposure(engine, as_of=DEMO_AS_OF)
