"""The `control-tower risk` commands: train the backorder-risk model and score every SKU and warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

risk_app = typer.Typer(help="Backorder-risk model: train it and score every SKU and warehouse.", no_args_is_help=True)


@risk_app.command("train")
def train(
    kaggle: Optional[Path] = typer.Option(
        None, help="A labelled file in the layout of the public 'Can you predict product backorders?' data set "
                   "(.csv or .csv.gz); without it the model trains on the product's own order history."),
    as_of: Optional[str] = typer.Option(None, help="Reference date of the history training, YYYY-MM-DD; default today."),
) -> None:
    """Train a risk model and store it as the next version."""
    from services.cli import _fail, _migrated_engine, _parse_as_of, _settings
    from services.risk.features import MissingColumns
    from services.risk.model import TrainingRefused
    from services.risk.service import train_on_file, train_on_history

    settings = _settings()
    if kaggle is not None and not kaggle.is_file():
        _fail(f"{kaggle} is not a file; pass a file of the public backorder data set, such as Kaggle_Test_Dataset_v2.csv.gz")
    with _migrated_engine(settings) as engine:
        try:
            if kaggle is not None:
                result = train_on_file(engine, kaggle)
            else:
                result = train_on_history(engine, _parse_as_of(as_of, settings))
        except (MissingColumns, TrainingRefused) as error:
            _fail(str(error))
    scores = result.scores
    typer.echo(f"risk model version {result.version} trained on {result.source}: {result.training_rows} rows, "
               f"{result.positive_rows} backorders, {result.seconds:.1f} s")
    typer.echo(f"held-out ROC AUC {scores['roc_auc']:.4f}, PR AUC {scores['pr_auc']:.4f}, "
               f"flag threshold {result.threshold:.3f}")


@risk_app.command("score")
def score(
    as_of: Optional[str] = typer.Option(None, help="Feature date, YYYY-MM-DD; default today."),
) -> None:
    """Score every SKU and warehouse now with the newest model and print the counts."""
    from services.cli import _fail, _migrated_engine, _parse_as_of, _settings
    from services.risk.service import NoModel, score_pairs

    settings = _settings()
    reference = _parse_as_of(as_of, settings) if as_of else None
    with _migrated_engine(settings) as engine:
        try:
            result = score_pairs(engine, as_of=reference, business_timezone=settings.business_timezone)
        except NoModel as error:
            _fail(str(error))
    for name, value in result.counts().items():
        typer.echo(f"{name:<24} {value:>10}")
    for warning in result.warnings:
        typer.echo(f"warning: {warning}")
