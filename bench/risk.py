"""Benchmark case: the backorder-risk model on the public data set.

    python -m bench.risk [--file PATH] [--folds 5]

Each step runs in its own process, so its peak resident memory is its own:

- baseline: reading the public file with pandas (read_backorder_csv), the
  floor any use of the file pays;
- cross_validation: stratified k-fold cross-validation of the whole
  pipeline, with ROC AUC and PR AUC per fold and the pooled calibration table;
- train: training the stored model on every row (the calibrated classifier,
  out-of-fold probabilities for the flag threshold, permutation importance);
- score: scoring 50,000 rows (matrix, calibrated probability, flag and the
  plain-words explanation of each flagged row) with the trained model.

Prints one JSON object on stdout. Times depend on the machine and on what
else runs on it, so read them as ratios to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata" / "risk" / "Kaggle_Test_Dataset_v2.csv.gz"
SCORE_ROWS = 50_000
STEPS = ("baseline", "cross_validation", "train", "score")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(step: str, path: Path, folds: int) -> dict:
    from services.risk.features import labels_of, read_backorder_csv

    started = time.perf_counter()
    frame = read_backorder_csv(path)
    read_seconds = time.perf_counter() - started
    if step == "baseline":
        return {"seconds": read_seconds, "rows": len(frame), "peak_mib": _peak_mib()}
    labels = labels_of(frame)
    if step == "cross_validation":
        from services.risk.model import cross_validate

        started = time.perf_counter()
        result = cross_validate(frame, labels, folds=folds)
        roc, roc_sd = result.spread("roc_auc")
        pr, pr_sd = result.spread("pr_auc")
        return {"seconds": time.perf_counter() - started, "peak_mib": _peak_mib(), "folds": result.folds,
                "roc_auc_mean": roc, "roc_auc_sd": roc_sd, "pr_auc_mean": pr, "pr_auc_sd": pr_sd,
                "pooled": result.pooled, "seconds_per_fold": result.seconds_per_fold}
    from services.risk.model import train_model

    started = time.perf_counter()
    model = train_model(frame, labels, where=str(path))
    train_seconds = time.perf_counter() - started
    if step == "train":
        return {"seconds": train_seconds, "peak_mib": _peak_mib(), "threshold": model.threshold,
                "held_out": {key: value for key, value in model.scores.items() if key != "calibration"},
                "top_importances": dict(sorted(model.importances.items(), key=lambda item: -item[1])[:8])}
    from services.risk.service import score_frame

    # TODO: time scoring from the database too (the feature events of 50,000 pairs of a large demo).
    rows = frame.sample(n=SCORE_ROWS, random_state=3).reset_index(drop=True)
    started = time.perf_counter()
    scored = score_frame(model, rows)
    return {"seconds": time.perf_counter() - started, "peak_mib": _peak_mib(), "rows": SCORE_ROWS,
            "flagged": int(scored["flagged"].sum()),
            "examples": scored.loc[scored["flagged"], "explanation"].head(3).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.step:
        json.dump(run_step(arguments.step, arguments.file, arguments.folds), sys.stdout, default=float)
        return
    if not arguments.file.is_file():
        raise SystemExit(f"{arguments.file} is absent; pass --file with the public backorder file")
    results = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_average_start": os.getloadavg()[0]}
    for step in STEPS:
        output = subprocess.run(
            [sys.executable, "-m", "bench.risk", "--step", step, "--file", str(arguments.file), "--folds", str(arguments.folds)],
            check=True, capture_output=True, text=True,
        ).stdout
        results[step] = json.loads(output)
    baseline = results["baseline"]["seconds"]
    for step in STEPS[1:]:
        results[step]["ratio_to_baseline"] = results[step]["seconds"] / baseline
    results["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
