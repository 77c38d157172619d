"""A tiny model that reads the plot, budget, release date, runtime, genres and the director's record:
what the what-if tests vary (trained once a session)."""

from __future__ import annotations

import functools
from pathlib import Path

from helpers import tiny_config

# Directors whose films earned the most, the least, and in between in the training table.
DIRECTORS = ("Ann Lee", "Bo Kim", "Cy Roe", "Di Fox")


@functools.cache
def metadata_run(tiny_bert: Path, root: Path) -> Path:
    """The split folder of a model trained on 96 demo films with release dates and directors.

    Test modules wrap it in a fixture: `metadata_run(tiny_bert, tmp_path_factory.getbasetemp())`.
    """
    import numpy as np
    import pandas as pd

    from reelcast.data.demo import make_catalogue
    from reelcast.predictor import RevenuePredictor

    root = Path(root) / "whatif_model"
    root.mkdir(parents=True, exist_ok=True)
    films = make_catalogue(96, seed=3)
    rng = np.random.default_rng(0)
    films["release_date"] = [
        f"{y}-{m:02d}-15" for y, m in zip(films["year"], rng.integers(1, 13, len(films)), strict=True)
    ]
    films.to_csv(root / "films.csv", index=False)
    # A director's record follows the revenue of their films, so the people features carry signal.
    rank = films["revenue"].rank(method="first").to_numpy().astype(int) - 1
    people = pd.DataFrame({"id": films["id"], "director": [DIRECTORS[r * 4 // len(films)] for r in rank]})
    people.to_csv(root / "people.csv", index=False)
    cfg = tiny_config(tiny_bert, root / "cache")
    cfg.data.people = str(root / "people.csv")
    cfg.ensemble.threads = 1
    RevenuePredictor(cfg, progress=False).fit(root / "films.csv").save(root / "model")
    return root / "model"
