"""Trailer cells -> TrailerRef: every common YouTube link form, bare ids, URLs and local paths."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from reelcast.media.refs import TrailerRef, TrailerRefError, parse_trailer_ref

VID = "K26_sDKnvMU"


@pytest.mark.parametrize(
    "cell",
    [
        f"https://www.youtube.com/watch?v={VID}",
        f"https://www.youtube.com/watch?feature=share&v={VID}&t=42s",
        f"youtube.com/watch?list=PL123&index=2&v={VID}",
        f"www.youtube.com/watch?v={VID}",
        f"http://m.youtube.com/watch?v={VID}",
        f"https://music.youtube.com/watch?v={VID}&si=abc",
        f"https://youtu.be/{VID}",
        f"youtu.be/{VID}?t=3",
        f"https://www.youtube.com/embed/{VID}?rel=0",
        f"https://youtube.com/shorts/{VID}",
        f"https://www.youtube.com/v/{VID}",
        f"https://www.youtube-nocookie.com/embed/{VID}",
        f"HTTPS://WWW.YOUTUBE.COM/watch?v={VID}",
        f"  {VID}  ",
        f'"{VID}"',
    ],
)
def test_youtube_forms(cell):
    ref = parse_trailer_ref(cell, None)
    assert ref == TrailerRef("youtube", VID)
    assert ref.cache_key == f"yt-{VID}"


@pytest.mark.parametrize("cell", [None, float("nan"), math.nan, pd.NA, "", "   "])
def test_empty_cells(cell):
    assert parse_trailer_ref(cell, None) is None


def test_http_media_url():
    ref = parse_trailer_ref("https://cdn.example.org/trailers/film.mp4?token=1", None)
    assert ref.kind == "url" and ref.value == "https://cdn.example.org/trailers/film.mp4?token=1"
    other = parse_trailer_ref("https://cdn.example.org/trailers/other.mp4", None)
    assert ref.cache_key.startswith("url-") and ref.cache_key != other.cache_key
    assert (
        ref.cache_key
        == parse_trailer_ref("https://cdn.example.org/trailers/film.mp4?token=1", None).cache_key
    )


def test_relative_path_resolves_against_table_folder(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"x")
    ref = parse_trailer_ref("clips/a.mp4", tmp_path)
    assert ref == TrailerRef("file", str((tmp_path / "clips" / "a.mp4").resolve()))
    assert ref.cache_key == f"file-{(tmp_path / 'clips' / 'a.mp4').resolve()}"
    # A path that does not exist (yet) is still a path: the download step reports it as not found.
    assert parse_trailer_ref("clips/missing.mp4", tmp_path).value == str(
        (tmp_path / "clips/missing.mp4").resolve()
    )


def test_absolute_path_and_file_url(tmp_path):
    f = tmp_path / "my trailer.mp4"
    f.write_bytes(b"x")
    assert parse_trailer_ref(str(f), None) == TrailerRef("file", str(f.resolve()))
    assert parse_trailer_ref(f.resolve().as_uri(), None) == TrailerRef("file", str(f.resolve()))


def test_existing_eleven_character_file_wins_over_youtube_id(tmp_path):
    name = "trailer_001"  # an extension-less file name that is also a well-formed YouTube id
    assert len(name) == 11
    assert parse_trailer_ref(name, tmp_path).kind == "youtube"  # no such file: read as an id
    (tmp_path / name).write_bytes(b"x")
    assert parse_trailer_ref(name, tmp_path) == TrailerRef("file", str((tmp_path / name).resolve()))


@pytest.mark.parametrize(
    ("cell", "needle"),
    [
        ("https://www.youtube.com/watch?v=tooshort", "valid 11-character video id"),
        ("https://youtu.be/", "valid 11-character video id"),
        ("https://www.youtube.com/channel/UCabc", "valid 11-character video id"),
        ("a great film", "accepted"),
        ("ftp://example.org/film.mp4", "unsupported URL scheme"),
        ("tt0114709", "accepted"),
    ],
)
def test_bad_cells_say_what_they_were(cell, needle):
    with pytest.raises(TrailerRefError) as e:
        parse_trailer_ref(cell, None)
    assert cell in str(e.value) and needle in str(e.value)


def test_trailer_ref_validates_its_fields():
    with pytest.raises(TrailerRefError):
        TrailerRef("vimeo", "123")
    with pytest.raises(TrailerRefError):
        TrailerRef("youtube", "not-an-id")
    with pytest.raises(TrailerRefError):
        TrailerRef("file", "relative/path.mp4")
    assert TrailerRef("file", str(Path("/abs/x.mp4"))).cache_key == "file-/abs/x.mp4"


@pytest.mark.parametrize(
    "cell", ["http://[::1:8000/ok.mp4", "https://[fe80::1/x.mp4", "http://[not-an-address]/t.mp4"]
)
def test_a_malformed_ipv6_url_is_an_invalid_reference(cell):
    from reelcast.media.refs import parse_remote_ref

    for parse in (parse_trailer_ref, parse_remote_ref):
        with pytest.raises(TrailerRefError) as e:
            parse(cell)
        assert e.value.status == "invalid"


def test_remote_refs_are_read_without_touching_the_filesystem(tmp_path, monkeypatch):
    from reelcast.media.refs import parse_remote_ref

    monkeypatch.chdir(tmp_path)
    (tmp_path / VID).write_bytes(b"x")  # an existing file named like an id does not matter here
    assert parse_remote_ref(VID) == TrailerRef("youtube", VID)
    assert parse_remote_ref(f"https://youtu.be/{VID}") == TrailerRef("youtube", VID)
    assert parse_remote_ref("https://cdn.example.org/t.mp4") == TrailerRef(
        "url", "https://cdn.example.org/t.mp4"
    )
    for path in ("~root/x.mp4", "/etc/passwd", "trailers/x.mp4", "x.mkv"):
        assert parse_remote_ref(path) is None
    for bad in ("ftp://x/t.mp4", "not a link", "https://www.youtube.com/watch?v=short"):
        with pytest.raises(TrailerRefError):
            parse_remote_ref(bad)
