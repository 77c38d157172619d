"""The prediction log as data for `reelcast ab-report`: read, and every row checked before it is used.

A log the report cannot use (a CSV given as --log-db, a missing database driver, a foreign table, a row
whose probabilities are not JSON or not one per class) raises PredictionLogError, a ValueError whose
message names the log or the row and the fix, instead of a failure deep inside the statistics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from reelcast.data.classes import NUM_CLASSES
from reelcast.serving.predlog import MODELS, PREDICTIONS, database_url, read_log

# The columns of the log this report reads; a table without them is not a reelcast prediction log.
PREDICTION_COLUMNS = (
    "id",
    "logged_at",
    "request_id",
    "arm",
    "role",
    "model_id",
    "film_id",
    "title",
    "predicted_class",
    "probabilities",
    "modalities_used",
    "description_chars",
    "budget_musd",
    "metadata",
)
MODEL_COLUMNS = ("id", "arm", "model_id", "path", "thresholds_musd", "modalities")
_JSON_COLUMNS = {PREDICTIONS: ("probabilities", "modalities_used", "metadata"), MODELS: ("thresholds_musd",)}
_ROW_FIX = (
    "the row was not written by `reelcast serve`: copy the log without it, or point --log-db at the "
    "server's own log"
)
_LOG_FIX = "--log-db takes the SQLite file or SQLAlchemy URL that `reelcast serve --log-db` writes"


class PredictionLogError(ValueError):
    """A prediction log that cannot be read: the message names the log or the row, and the fix."""


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError as e:
        raise PredictionLogError(f"--log-db {url!r} is not a database URL ({e}); {_LOG_FIX}") from None


def _check_tables(url: str, shown: str) -> None:
    """The log opens with its driver, and both tables exist with the columns this report reads."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[-1])
        if path.is_file() and path.stat().st_size:
            with path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise PredictionLogError(
                        f"{path}: not a SQLite database (a CSV or other file?); {_LOG_FIX}"
                    )
        if not path.exists():
            return  # read_log names the missing file
    try:
        engine = create_engine(url)
    except (ImportError, NoSuchModuleError) as e:
        dialect = url.split("://", 1)[0]
        raise PredictionLogError(
            f"{shown}: the database driver for {dialect} is not installed ({e}); install it into this "
            "environment (for PostgreSQL: pip install 'reelcast[postgres]'), or give the SQLite file"
        ) from None
    try:
        insp = inspect(engine)
        names = set(insp.get_table_names())
        for table, wanted in ((PREDICTIONS, PREDICTION_COLUMNS), (MODELS, MODEL_COLUMNS)):
            if table not in names:
                raise PredictionLogError(
                    f"{shown}: not a reelcast prediction log (no table {table}); {_LOG_FIX}"
                )
            have = {c["name"] for c in insp.get_columns(table)}
            missing = [c for c in wanted if c not in have]
            if missing:
                raise PredictionLogError(
                    f"{shown}: table {table} has no column {', '.join(missing)}: not a reelcast prediction "
                    f"log; {_LOG_FIX}"
                )
    except SQLAlchemyError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PredictionLogError(f"{shown}: cannot read the prediction log ({first}); {_LOG_FIX}") from None
    finally:
        engine.dispose()


def _row_name(table: str, row: Any) -> str:
    if table == PREDICTIONS:
        return f"table {table}, row id {row['id']} (request_id {row['request_id']})"
    return f"table {table}, row id {row['id']} (arm {row['arm']})"


def _find_bad_json(url: str, shown: str) -> None:
    """Raise naming the first row whose JSON column does not decode (read_log only says that one does not)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table, cols in _JSON_COLUMNS.items():
                keys = ["id", "request_id" if table == PREDICTIONS else "arm"]
                raw = pd.read_sql_table(table, conn, columns=keys + list(cols))
                for row in raw.to_dict("records"):
                    for col in cols:
                        if col == "metadata" and not isinstance(row[col], str):  # NULL: no metadata
                            continue
                        try:
                            json.loads(row[col])
                        except (TypeError, ValueError) as e:
                            raise PredictionLogError(
                                f"{shown}: {_row_name(table, row)}: {col} is not valid JSON ({e}); {_ROW_FIX}"
                            ) from None
    finally:
        engine.dispose()


def _bad_probabilities(value: Any) -> str:
    """What is wrong with one row's probabilities, or "" when it is a distribution over the classes."""
    if not isinstance(value, list) or len(value) != NUM_CLASSES:
        n = len(value) if isinstance(value, list) else type(value).__name__
        return f"probabilities holds {n} values, expected {NUM_CLASSES} (one per class)"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return "probabilities holds a value that is not a finite number"
    if min(value) < 0 or max(value) > 1 or abs(sum(value) - 1) > 1e-3:
        return f"probabilities must lie in [0, 1] and sum to 1, got sum {sum(value):.4g}"
    return ""


def _check_rows(preds: pd.DataFrame, models: pd.DataFrame, shown: str) -> None:
    """Each decoded row holds what the report computes with; the first bad one is named."""
    for row in preds.to_dict("records"):
        problem = _bad_probabilities(row["probabilities"])
        if not problem and not isinstance(row["modalities_used"], dict):
            problem = "modalities_used is not a JSON object {modality: true/false}"
        if not problem and row["predicted_class"] not in range(NUM_CLASSES):
            problem = f"predicted_class {row['predicted_class']} is not a class 0..{NUM_CLASSES - 1}"
        if problem:
            raise PredictionLogError(f"{shown}: {_row_name(PREDICTIONS, row)}: {problem}; {_ROW_FIX}")
    for row in models.to_dict("records"):
        edges = row["thresholds_musd"]
        if not (
            isinstance(edges, list)
            and len(edges) == NUM_CLASSES - 1
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in edges)
        ):
            raise PredictionLogError(
                f"{shown}: {_row_name(MODELS, row)}: thresholds_musd must be {NUM_CLASSES - 1} class edges "
                f"in M$, got {edges!r}; {_ROW_FIX}"
            )


def read_prediction_log(log_db: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions, models) of a prediction log, every row checked; PredictionLogError names a bad one."""
    url = database_url(log_db)
    shown = _shown_url(url)
    _check_tables(url, shown)
    try:
        preds, models = read_log(url)
    except json.JSONDecodeError:
        _find_bad_json(url, shown)
        raise
    _check_rows(preds, models, shown)
    return preds, models
