"""What a training run records about its films beside the metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reelcast.data.splits import Split
from reelcast.experiment import portion_years


def test_portion_years_span_each_portions_known_years():
    films = pd.DataFrame({"year": [1999, 2004, None, 2015, 1950, None]})
    split = Split("s", train=np.array([0, 1, 2, 4]), val=np.array([3]), test=np.array([5]))
    years = portion_years(films, split)
    assert years["train"] == {"first": 1950, "last": 2004, "films": 3}  # a film without a year is not counted
    assert years["val"] == {"first": 2015, "last": 2015, "films": 1}
    assert years["test"] is None  # no film of the portion has a year: nothing to say, not a made-up span
