"""Bring-your-own features: per-film vectors from a file keyed by film id, used as the `external`
modality (for example trailer features computed elsewhere).

Files: Parquet or CSV/TSV with an id column and numeric feature columns; NPZ with arrays `ids` and
`features`; or NPY (an N x D matrix) with its ids one per line in `<file>.ids.txt` beside it. A film
the file does not list is masked (never zeros presented as data); the count is logged. The columns are
standardised with the training films' means and spreads, which the checkpoint keeps; the vectors
themselves stay in the user's file, which predict reads again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

ID_GUESSES = ("film_id", "id", "tmdb_id", "tmdbid", "movie_id", "imdb_id")


class FeatureFileError(ValueError):
    """A features file that cannot be used; the message names the file, row or column."""


def read_feature_file(path: str | Path, id_col: str | None = None) -> tuple[list[str], np.ndarray, list[str]]:
    """(ids, (N, D) float32 matrix, column names) from a features file."""
    path = Path(path)
    if not path.exists():
        raise FeatureFileError(f"{path}: features file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "ids" not in z or "features" not in z:
                raise FeatureFileError(f"{path}: an NPZ features file needs arrays 'ids' and 'features'")
            ids, X = [str(i) for i in z["ids"]], np.asarray(z["features"], dtype=np.float32)
        names = [f"f{j}" for j in range(X.shape[1] if X.ndim == 2 else 0)]
    elif suffix == ".npy":
        side = path.with_name(path.name + ".ids.txt")
        if not side.exists():
            raise FeatureFileError(f"{path}: an NPY features file needs its film ids, one a line, in {side}")
        X = np.load(path, allow_pickle=False).astype(np.float32)
        ids = [s.strip() for s in side.read_text(encoding="utf-8").splitlines() if s.strip()]
        names = [f"f{j}" for j in range(X.shape[1] if X.ndim == 2 else 0)]
    elif suffix in (".parquet", ".pq", ".csv", ".tsv"):
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", dtype={id_col: str} if id_col else None
            )
        cols = [str(c) for c in df.columns]
        df.columns = cols
        col = id_col or next((c for c in cols if c.lower() in ID_GUESSES), None)
        if col is None or col not in cols:
            raise FeatureFileError(
                f"{path}: no id column ({id_col or ' / '.join(ID_GUESSES)}); "
                f"columns found: {', '.join(cols[:10])}"
            )
        ids = [str(v).strip() for v in df[col]]
        # An integer id read as float (CSV with gaps) would print as "862.0"; ids are matched as text.
        ids = [i[:-2] if i.endswith(".0") and i[:-2].isdigit() else i for i in ids]
        names = [c for c in cols if c != col]
        bad = [c for c in names if not pd.api.types.is_numeric_dtype(df[c])]
        if bad:
            raise FeatureFileError(
                f"{path}: feature column(s) {', '.join(bad[:5])} are not numeric; "
                "keep only the id and numbers"
            )
        X = df[names].to_numpy(dtype=np.float32)
    else:
        raise FeatureFileError(
            f"{path}: unsupported features format {suffix!r}; use .parquet, .csv, .npz or .npy"
        )
    if X.ndim != 2 or X.shape[0] != len(ids):
        raise FeatureFileError(f"{path}: {len(ids)} ids but a feature array of shape {X.shape}")
    if X.shape[1] == 0:
        raise FeatureFileError(f"{path}: no feature columns")
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise FeatureFileError(f"{path}: film id {i!r} is listed twice")
        seen.add(i)
    return ids, X, names


@dataclass
class ExternalFeatures:
    """Standardisation of a features file's columns, fit on training films; looks up any films by id."""

    source: str
    names: list[str]
    mean: list[float]
    scale: list[float]
    id_col: str | None = None
    _table: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def dim(self) -> int:
        """Feature width."""
        return len(self.names)

    @classmethod
    def fit(cls, path: str | Path, train_ids: list[str], id_col: str | None = None) -> ExternalFeatures:
        """Read the file and fit per-column mean and spread on the training films it lists."""
        ids, X, names = read_feature_file(path, id_col)
        index = {i: r for r, i in enumerate(ids)}
        rows = [index[i] for i in train_ids if i in index and np.isfinite(X[index[i]]).all()]
        if len(rows) < 2:
            raise FeatureFileError(
                f"{path}: only {len(rows)} training films have a complete row; ids are matched to the "
                f"table's film ids as text (first ids in the file: {', '.join(ids[:3])})"
            )
        Xt = X[rows].astype(np.float64)
        std = Xt.std(0)
        ext = cls(str(path), names, Xt.mean(0).tolist(), np.where(std > 0, std, 1.0).tolist(), id_col)
        ext._table = dict(zip(ids, X, strict=True))
        log.info(
            "features %s: %d columns; %d of %d training films listed",
            path,
            len(names),
            len(rows),
            len(train_ids),
        )
        return ext

    def transform(self, film_ids: list[str], path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) standardised float32 features and an (N,) presence mask for these films."""
        if self._table is None or (path is not None and str(path) != self.source):
            src = Path(path or self.source)
            if not src.exists():
                log.warning("features file %s not found: the external modality is masked for every film", src)
                return np.zeros((len(film_ids), self.dim), np.float32), np.zeros(len(film_ids), bool)
            ids, X, names = read_feature_file(src, self.id_col)
            if len(names) != len(self.names):
                raise FeatureFileError(
                    f"{src}: {len(names)} feature columns, the model was fit on {len(self.names)}"
                )
            self.source, self._table = str(src), dict(zip(ids, X, strict=True))
        mean, scale = np.asarray(self.mean), np.asarray(self.scale)
        out = np.zeros((len(film_ids), self.dim), np.float32)
        present = np.zeros(len(film_ids), bool)
        for r, fid in enumerate(film_ids):
            v = self._table.get(str(fid))
            if v is not None and np.isfinite(v).all():
                out[r] = (v - mean) / scale
                present[r] = True
        missing = int((~present).sum())
        if missing:
            log.info(
                "features %s: %d of %d films not listed (or incomplete): external modality masked",
                self.source,
                missing,
                len(film_ids),
            )
        return out, present

    def to_dict(self) -> dict:
        """For the checkpoint (the statistics, not the vectors)."""
        return {
            "source": self.source,
            "names": self.names,
            "mean": self.mean,
            "scale": self.scale,
            "id_col": self.id_col,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ExternalFeatures:
        """Rebuild from a checkpoint; the vectors are read from the file on first use."""
        return cls(d["source"], list(d["names"]), list(d["mean"]), list(d["scale"]), d.get("id_col"))
