"""A corpus of bad trailer cells: each becomes one film's status with its line, never a whole-run abort;
local files are read only inside the table's folder, only when regular, and only up to a size limit."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from reelcast.config import MediaConfig
from reelcast.media import extract
from reelcast.media.extract import resolve_refs
from reelcast.media.refs import TrailerRefError, check_local_file

VID = "K26_sDKnvMU"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A table folder with one good trailer file, and a file just outside it."""
    d = tmp_path / "table"
    d.mkdir()
    (d / "good.mp4").write_bytes(b"\x00" * 64)
    (tmp_path / "outside.mp4").write_bytes(b"\x00" * 64)
    return d


def statuses(cells, folder, caplog=None, **media):
    """Resolve a table's trailer cells (lines 2, 3, ...): (refs by row, failure statuses by row)."""
    films = pd.DataFrame({"trailer": cells, "line": list(range(2, len(cells) + 2))})
    return resolve_refs(films, folder, MediaConfig(**media))


def one(cell, folder, caplog, **media) -> dict:
    """The status of a bad cell placed between two good rows; the good rows must stay good."""
    with caplog.at_level(logging.WARNING):
        refs, failed = statuses(["good.mp4", cell, VID], folder, **media)
    assert set(refs) == {0, 2} and set(failed) == {1}, failed
    assert "line 3: trailer" in caplog.text
    return failed[1]


# ---- cells the OS cannot take ----
def test_symlink_loop(folder, caplog):
    os.symlink(folder / "loop_b", folder / "loop_a")
    os.symlink(folder / "loop_a", folder / "loop_b")
    st = one("loop_a/x.mp4", folder, caplog)
    assert st["status"] == "invalid" and "loop_a" in st["message"]


def test_5000_character_path(folder, caplog):
    st = one("a/" * 2500 + "x.mp4", folder, caplog)
    assert st["status"] == "invalid" and "too long" in st["message"] and "5005 characters" in st["message"]


def test_over_long_file_name(folder, caplog):
    st = one("n" * 300 + ".mp4", folder, caplog)
    assert st["status"] == "invalid" and "too long" in st["message"]


def test_nul_in_a_path(folder, caplog):
    st = one("clips/a\x00b.mp4", folder, caplog)
    assert st["status"] == "invalid" and "NUL" in st["message"]


def test_nul_in_a_file_url(folder, caplog):
    st = one("file:///tmp/a%00b.mp4", folder, caplog)
    assert st["status"] == "invalid" and "NUL" in st["message"]


def test_unknown_home_directory(folder, caplog):
    st = one("~nosuchuser_reelcast/x.mp4", folder, caplog)
    assert st["status"] == "invalid" and "cannot be resolved" in st["message"]


def test_missing_file(folder, caplog):
    st = one("gone.mp4", folder, caplog)
    assert st["status"] == "not_found" and "does not exist" in st["message"]


# ---- the table's folder is the limit ----
def test_relative_path_out_of_the_folder(folder, caplog):
    st = one("../outside.mp4", folder, caplog)
    assert st["status"] == "outside_folder" and "--allow-outside-paths" in st["message"]


def test_absolute_path_elsewhere(folder, caplog):
    st = one("/etc/hostname", folder, caplog)
    assert st["status"] == "outside_folder" and "/etc/hostname" in st["message"]


def test_symlink_inside_pointing_out(folder, caplog):
    os.symlink("/etc/passwd", folder / "innocent.mp4")
    st = one("innocent.mp4", folder, caplog)
    assert st["status"] == "outside_folder" and "/etc/passwd" in st["message"]


def test_file_url_elsewhere(folder, caplog):
    st = one("file:///etc/passwd", folder, caplog)
    assert st["status"] == "outside_folder"


def test_allow_outside_paths_reads_them(folder):
    refs, failed = statuses(
        ["../outside.mp4", str(folder.parent / "outside.mp4")], folder, allow_outside_paths=True
    )
    assert not failed and all(r.kind == "file" for r in refs.values())


def test_symlink_within_the_folder_is_fine(folder):
    os.symlink(folder / "good.mp4", folder / "alias.mp4")
    refs, failed = statuses(["alias.mp4"], folder)
    assert not failed and refs[0].value == str(folder / "good.mp4")


# ---- only regular files, and not huge ones ----
def test_directory(folder, caplog):
    (folder / "clips.mp4").mkdir()
    st = one("clips.mp4", folder, caplog)
    assert st["status"] == "not_a_regular_file" and "directory" in st["message"]


def test_fifo_is_refused_without_blocking(folder, caplog):
    os.mkfifo(folder / "pipe.mp4")
    t0 = time.monotonic()
    st = one("pipe.mp4", folder, caplog)
    assert st["status"] == "not_a_regular_file" and time.monotonic() - t0 < 5


def test_device_file(folder, caplog):
    st = one("/dev/zero", folder, caplog, allow_outside_paths=True)
    assert st["status"] == "not_a_regular_file"


def test_sparse_10_gb_file_is_refused_before_hashing(folder, caplog, monkeypatch):
    with open(folder / "huge.mp4", "wb") as f:
        f.truncate(10 * 1024**3)  # sparse: no disk used
    monkeypatch.setattr(extract, "sha256_file", lambda p: pytest.fail(f"{p} was hashed"))
    t0 = time.monotonic()
    st = one("huge.mp4", folder, caplog)
    assert st["status"] == "too_large" and "media.max_file_mb" in st["message"]
    assert time.monotonic() - t0 < 5


def test_size_limit_is_configurable(folder):
    with pytest.raises(TrailerRefError) as e:
        check_local_file(folder / "good.mp4", folder, max_bytes=10)
    assert e.value.status == "too_large"
    assert check_local_file(folder / "good.mp4", folder, max_bytes=64) == 64


# ---- whole runs go on ----
def test_many_bad_cells_never_abort_a_run(folder, caplog):
    os.symlink(folder / "l2", folder / "l1")
    os.symlink(folder / "l1", folder / "l2")
    cells = ["l1/x.mp4", "a/" * 2500, "x\x00.mp4", "../outside.mp4", "/dev/zero", "good.mp4", "", VID]
    with caplog.at_level(logging.WARNING):
        refs, failed = statuses(cells, folder)
    assert set(refs) == {5, 7}
    assert failed[6]["status"] == "no_trailer"
    for row in (0, 1, 2, 3, 4):
        assert f"line {row + 2}: trailer" in caplog.text
