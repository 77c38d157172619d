"""Fitted LightGBM boosters scored through LightGBM's C API, without importing the lightgbm package.

Importing `lightgbm` imports scikit-learn, pandas and narwhals: 0.8-1.3 s of a cold `reelcast predict`
(benchmarks/startup.py), a process that only scores saved boosters. Loading a model's text and scoring
rows are two functions of the library's documented C API (LGBM_BoosterLoadModelFromString,
LGBM_BoosterPredictForMat), which the package itself wraps; calling them with ctypes gives the package's
predictions bit for bit (tests/models/test_booster.py) with less Python around each call. Training
stays with the lightgbm package; every prediction from a fitted booster goes through `Booster`.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import sys
from pathlib import Path

import numpy as np

_NORMAL, _CONTRIB = 0, 3  # C_API_PREDICT_*
_FLOAT64, _ROW_MAJOR = 1, 1  # C_API_DTYPE_FLOAT64, C_API_IS_ROW_MAJOR


def _library_name() -> str:
    if sys.platform == "win32":
        return "lib_lightgbm.dll"
    return "lib_lightgbm.dylib" if sys.platform == "darwin" else "lib_lightgbm.so"


@functools.cache
def _lib() -> ctypes.CDLL:
    """LightGBM's shared library, found where the lightgbm package keeps it (the package is not run)."""
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the tree components need lightgbm: pip install lightgbm")
    package = Path(next(iter(spec.submodule_search_locations)))
    name = _library_name()
    # Where the package's own loader looks: the wheel's lib/, a build's bin/ or the folder above.
    places = [package / "lib" / name, package / "bin" / name, package.parent / name]
    found = next((p for p in places if p.is_file()), None)
    if found is None:
        raise RuntimeError(f"lightgbm's library {name} is not in {package}: reinstall lightgbm")
    lib = ctypes.cdll.LoadLibrary(str(found))
    lib.LGBM_GetLastError.restype = ctypes.c_char_p
    return lib


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(f"LightGBM: {_lib().LGBM_GetLastError().decode(errors='replace')}")


class Booster:
    """One fitted booster, from its model text: `predict` as lightgbm.Booster.predict with every tree."""

    def __init__(self, model_str: str):
        lib, self._text = _lib(), model_str
        self._free = lib.LGBM_BoosterFree  # kept: at interpreter exit the module's globals may be gone
        self._handle = ctypes.c_void_p()
        iterations, n = ctypes.c_int(), ctypes.c_int()
        _check(
            lib.LGBM_BoosterLoadModelFromString(
                model_str.encode(), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )
        _check(lib.LGBM_BoosterGetNumClasses(self._handle, ctypes.byref(n)))
        self.num_class = n.value
        _check(lib.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(n)))
        self.num_feature = n.value

    def predict(self, X: np.ndarray, contrib: bool = False, threads: int = 0) -> np.ndarray:
        """Predictions of X's rows: (N,) or (N, classes); `contrib`: TreeSHAP, (N, (F + 1) * classes).

        `threads`: OpenMP threads (0: LightGBM's default); each row is summed alone, so the thread count
        never changes a prediction.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.num_feature:
            raise ValueError(f"the booster reads {self.num_feature} features per row, got shape {X.shape}")
        kind = _CONTRIB if contrib else _NORMAL
        per_row = (self.num_feature + 1) * self.num_class if contrib else self.num_class
        out = np.empty(len(X) * per_row, dtype=np.float64)
        if len(X):
            written = ctypes.c_int64()
            _check(
                _lib().LGBM_BoosterPredictForMat(
                    self._handle,
                    X.ctypes.data_as(ctypes.c_void_p),
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(len(X)),
                    ctypes.c_int32(self.num_feature),
                    ctypes.c_int(_ROW_MAJOR),
                    ctypes.c_int(kind),
                    ctypes.c_int(0),  # first iteration
                    ctypes.c_int(-1),  # every iteration: a saved booster holds its best rounds only
                    f"num_threads={int(threads)}".encode(),
                    ctypes.byref(written),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
            if written.value != out.size:
                raise RuntimeError(f"LightGBM wrote {written.value} predictions, expected {out.size}")
        return out if per_row == 1 else out.reshape(len(X), per_row)

    def __reduce__(self):
        # A copy or a pickle loads the text again: the handle belongs to this object alone.
        return Booster, (self._text,)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._free(handle)
            handle.value = None
