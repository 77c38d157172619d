"""Property-based tests (Hypothesis) of the trailer reference parser."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reelcast.media.refs import TrailerRef, TrailerRefError, parse_trailer_ref

IDS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=11, max_size=11)
BASE = Path(tempfile.gettempdir()) / "reelcast-refs-property-base"


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_cell_gives_a_ref_none_or_a_trailer_ref_error(cell):
    try:
        ref = parse_trailer_ref(cell, BASE)
    except TrailerRefError as e:
        assert str(e) and e.status == "invalid"
        return
    assert ref is None or isinstance(ref, TrailerRef)


@given(st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_control_characters_and_nul_never_escape_as_other_errors(cell):
    try:
        ref = parse_trailer_ref("clips/" + cell + ".mp4", BASE)
    except TrailerRefError as e:
        assert "\x00" in cell and "NUL" in str(e)
        return
    assert "\x00" not in cell and ref is not None and ref.kind in ("file", "url", "youtube")


@given(
    IDS,
    st.sampled_from(
        [
            "https://www.youtube.com/watch?v={}",
            "https://youtu.be/{}",
            "youtube.com/watch?feature=share&v={}&t=3",
            "https://www.youtube.com/embed/{}?rel=0",
            "https://youtube.com/shorts/{}",
            "{}",
        ]
    ),
)
def test_every_youtube_form_gives_its_id(vid, form):
    assert parse_trailer_ref(form.format(vid), BASE) == TrailerRef("youtube", vid)


@given(
    st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + "_ -", min_size=1, max_size=20),
        min_size=1,
        max_size=4,
    )
)
def test_relative_media_paths_resolve_under_the_table_folder(parts):
    parts = [p.strip() or "x" for p in parts]
    ref = parse_trailer_ref("/".join(parts) + ".mp4", BASE)
    assert ref.kind == "file" and Path(ref.value).is_relative_to(BASE.resolve())
