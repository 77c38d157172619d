"""Decoding real MP4 files: frames at the right moments, upright, robust to damage; audio level and length.

The synthetic trailers show their own presentation time as the grey level of a centre patch
(`synth.timecode_level`) and a red block above the centre, so a test can read back which moment
of the clip a frame came from and which way up it is.
"""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reelcast.config import MediaConfig
from reelcast.media import decode, synth
from reelcast.media.decode import MediaError, decode_trailer, load_audio, sample_frames

SHARED_MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
CFG = MediaConfig(num_frames=8, resize=128, crop=112, audio_seconds=2.0, sample_rate=16000)


def shared_media(name: str) -> Path:
    p = SHARED_MEDIA / name
    if not p.exists():
        pytest.skip(f"{p} not present (the shared media folder sits beside the repository)")
    return p


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "normal": synth.render_trailer(d / "normal.mp4", seed=1),
        "short": synth.render_trailer(d / "short.mp4", seconds=0.25, seed=2),
        "noaudio": synth.render_trailer(d / "noaudio.mp4", audio=False, seed=3),
        "vertical": synth.render_trailer(d / "vertical.mp4", width=240, height=320, rotate=90, seed=4),
        "vertical270": synth.render_trailer(d / "vertical270.mp4", width=240, height=320, rotate=270, seed=4),
        "vfr": synth.render_trailer(d / "vfr.mp4", vfr=True, seed=5),
    }


def timecodes(frames: np.ndarray) -> np.ndarray:
    """The grey level of each frame's centre patch (the time it was rendered at)."""
    c = frames.shape[1] // 2
    return frames[:, c - 4 : c + 4, c - 4 : c + 4].astype(float).mean(axis=(1, 2, 3))


def red_centre(frame: np.ndarray) -> tuple[float, float]:
    """Row and column (as fractions) of the red "up" marker."""
    red = (frame[..., 0].astype(int) - frame[..., 1].astype(int)) > 120
    ys, xs = np.nonzero(red)
    assert len(ys) > 20, "red marker not found in the frame"
    return ys.mean() / frame.shape[0], xs.mean() / frame.shape[1]


def expected_levels(seconds: float, n: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
    end = seconds if end is None else end
    t = start + (np.arange(n) + 0.5) * (end - start) / n
    return np.array([synth.timecode_level(x, seconds) for x in t])


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# ---- frames ---------------------------------------------------------------------------------------


def test_frames_shape_dtype_and_times(media):
    frames = sample_frames(media["normal"], CFG)
    assert frames.shape == (8, 112, 112, 3) and frames.dtype == np.uint8
    # Each frame comes from the centre of its eighth of the clip (to within one frame at 24 fps).
    np.testing.assert_allclose(timecodes(frames), expected_levels(3.0, 8), atol=255 / 72 + 3)
    row, col = red_centre(frames[0])
    assert row < 0.5 and 0.35 < col < 0.65  # upright


def test_planned_decode_equals_full_decode(media):
    cfg = replace(CFG, num_frames=13)
    planned = sample_frames(media["normal"], cfg)
    sequential = sample_frames(media["normal"], cfg, strategy="sequential")
    np.testing.assert_array_equal(planned, sequential)


def test_trim_and_fallback_when_trim_leaves_nothing(media):
    trimmed = sample_frames(media["normal"], replace(CFG, trim_start=1.0, trim_end=1.0))
    np.testing.assert_allclose(timecodes(trimmed), expected_levels(3.0, 8, 1.0, 2.0), atol=255 / 72 + 3)
    d = decode_trailer(media["normal"], replace(CFG, trim_start=2.0, trim_end=2.0))
    np.testing.assert_allclose(timecodes(d.frames), expected_levels(3.0, 8), atol=255 / 72 + 3)
    assert d.status == "degraded" and any("whole clip" in w for w in d.warnings)


def test_short_clip_repeats_last_frame(media):
    d = decode_trailer(media["short"], CFG)  # 0.25 s at 24 fps = 6 frames for 8 samples
    assert d.frames.shape == (8, 112, 112, 3)
    levels = timecodes(d.frames)
    assert np.all(np.diff(levels[:6]) > 20)  # six different moments, in order
    np.testing.assert_array_equal(d.frames[6], d.frames[5])
    np.testing.assert_array_equal(d.frames[7], d.frames[5])
    assert d.duration == pytest.approx(0.25, abs=0.01)
    assert any("only 6 video frames" in w for w in d.warnings)


@pytest.mark.parametrize("name", ["vertical", "vertical270"])
def test_rotated_phone_video_comes_out_upright(media, name):
    frames = sample_frames(media[name], CFG)
    for f in (frames[0], frames[-1]):
        row, col = red_centre(f)
        assert row < 0.45 and 0.35 < col < 0.65, f"marker at ({row:.2f}, {col:.2f}): picture not upright"


def test_variable_frame_rate_uses_timestamps(media):
    times = synth.frame_times(3.0, 24, vfr=True)
    target = (np.arange(8) + 0.5) * 3.0 / 8
    by_index = times[((np.arange(8) + 0.5) * len(times) / 8).astype(int)]
    assert np.abs(by_index - target).max() > 0.4  # the clip really punishes index-based sampling
    levels = timecodes(sample_frames(media["vfr"], CFG))
    # Sparse half: frames 1/12 s apart, so the nearest is within 1/24 s (~3.5 grey levels).
    np.testing.assert_allclose(levels, expected_levels(3.0, 8, 0.0, times[-1] + 1 / 48), atol=6)


def test_no_audio_stream(media):
    d = decode_trailer(media["noaudio"], CFG)
    assert d.audio is None and d.frames.shape == (8, 112, 112, 3) and d.status == "ok"
    assert load_audio(media["noaudio"], CFG) is None


def test_garbled_middle_still_gives_frames(media, tmp_path):
    bad = synth.write_corrupt_copy(media["normal"], tmp_path / "garbled.mp4", start=0.45, end=0.6)
    d = decode_trailer(bad, CFG)
    assert d.frames.shape == (8, 112, 112, 3) and d.frames.dtype == np.uint8
    assert d.status == "degraded" and any("damaged" in w for w in d.warnings)


def test_truncated_file_gives_frames_of_the_readable_part(media, tmp_path):
    bad = synth.write_corrupt_copy(media["normal"], tmp_path / "cut.mp4", mode="truncate", start=0.5)
    d = decode_trailer(bad, CFG)
    assert d.frames.shape == (8, 112, 112, 3)
    assert d.duration < 2.5 and any("truncated" in w for w in d.warnings)


def test_all_video_damaged_is_corrupt(media, tmp_path):
    data = media["normal"].read_bytes()
    payload = (data.find(b"mdat") + 4) / len(data)  # keep the header, destroy every sample
    bad = synth.write_corrupt_copy(media["normal"], tmp_path / "dead.mp4", start=payload, end=1.0)
    with pytest.raises(MediaError) as e:
        sample_frames(bad, CFG)
    assert e.value.status == decode.CORRUPT and "dead.mp4" in str(e.value)


def test_garbled_header_is_corrupt(media, tmp_path):
    bad = synth.write_corrupt_copy(media["normal"], tmp_path / "nohead.mp4", start=0.0, end=1.0)
    with pytest.raises(MediaError) as e:
        decode_trailer(bad, CFG)
    assert e.value.status == decode.CORRUPT


def test_empty_missing_and_audio_only_files(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    cases = {
        tmp_path / "empty.mp4": decode.EMPTY_FILE,
        tmp_path / "missing.mp4": decode.UNREADABLE,
        write_wav(tmp_path / "sound.wav", np.zeros(800), 8000): decode.NO_VIDEO,
    }
    for path, status in cases.items():
        with pytest.raises(MediaError) as e:
            decode_trailer(path, CFG)
        assert e.value.status == status and path.name in str(e.value)


def test_bad_crop_setting_is_rejected(media):
    with pytest.raises(ValueError, match="crop"):
        sample_frames(media["normal"], replace(CFG, crop=300))


# ---- audio ----------------------------------------------------------------------------------------


def test_audio_length_level_and_pitch(media):
    cfg = replace(CFG, audio_seconds=2.0)
    a = load_audio(media["normal"], cfg)
    assert a.dtype == np.float32 and a.shape == (32000,)
    rms_db = 20 * np.log10(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(decode.TARGET_DBFS, abs=0.1)
    # The tone's pitch survives resampling from 22.05 kHz: the sample rate is really 16 kHz.
    spectrum = np.abs(np.fft.rfft(a))
    peak_hz = np.fft.rfftfreq(len(a), 1 / cfg.sample_rate)[spectrum.argmax()]
    assert peak_hz == pytest.approx(synth.tone_frequency(1), abs=2.0)


def test_short_audio_is_zero_padded_and_level_is_of_the_sound(media):
    a = load_audio(media["normal"], replace(CFG, audio_seconds=5.0))  # the clip has 3 s
    assert a.shape == (80000,)
    assert np.all(a[int(3.1 * 16000) :] == 0)
    sound = a[: int(2.9 * 16000)]
    assert 20 * np.log10(np.sqrt(np.mean(sound.astype(np.float64) ** 2))) == pytest.approx(-20, abs=0.3)


def test_audio_offset_starts_later(media):
    whole = load_audio(media["normal"], replace(CFG, audio_seconds=2.5))
    late = load_audio(media["normal"], replace(CFG, audio_seconds=1.0, audio_offset=1.0))
    seg = whole[16000:32000]
    corr = np.dot(seg, late) / (np.linalg.norm(seg) * np.linalg.norm(late))
    assert corr > 0.99


def test_silent_track_stays_silent(tmp_path):
    a = load_audio(write_wav(tmp_path / "quiet.wav", np.zeros(8000), 8000), CFG)
    assert a.shape == (32000,) and not np.any(a)


# ---- real files -----------------------------------------------------------------------------------


def test_real_trailer_bbb():
    path = shared_media("trailer_bbb.mp4")
    cfg = MediaConfig(num_frames=12, audio_seconds=5.0)
    d = decode_trailer(path, cfg)
    assert d.frames.shape == (12, 224, 224, 3) and d.frames.dtype == np.uint8
    assert d.duration == pytest.approx(55.1, abs=0.2) and d.status == "ok"
    assert len({f.tobytes() for f in d.frames}) == 12  # twelve different pictures
    assert d.audio.shape == (80000,) and d.audio.dtype == np.float32
    np.testing.assert_array_equal(d.frames, sample_frames(path, cfg, strategy="sequential"))


def test_real_bigbuckbunny_surround_sound_to_mono():
    d = decode_trailer(shared_media("bigbuckbunny_5s.mp4"), MediaConfig(num_frames=16, audio_seconds=8.0))
    assert d.frames.shape == (16, 224, 224, 3)
    assert d.audio.shape == (128000,)
    assert np.any(d.audio[:16000]) and not np.any(d.audio[int(5.5 * 16000) :])  # 5.3 s of sound, then zeros


def test_real_video_without_audio():
    d = decode_trailer(shared_media("bikes_noaudio.mp4"), MediaConfig(num_frames=10))
    assert d.frames.shape == (10, 224, 224, 3) and d.audio is None
    assert d.duration == pytest.approx(10.0, abs=0.1)


# ---- the synthetic trailers themselves ------------------------------------------------------------


def test_synthetic_trailers_are_deterministic_per_seed(tmp_path):
    a = synth.render_trailer(tmp_path / "a.mp4", seconds=1.0, seed=7).read_bytes()
    b = synth.render_trailer(tmp_path / "b.mp4", seconds=1.0, seed=7).read_bytes()
    c = synth.render_trailer(tmp_path / "c.mp4", seconds=1.0, seed=8).read_bytes()
    assert a == b and a != c
    fa, fc = (sample_frames(tmp_path / n, CFG) for n in ("a.mp4", "c.mp4"))
    assert np.abs(fa.astype(int) - fc.astype(int)).mean() > 5  # other colours and motion


# ---- frame-size guard ------------------------------------------------------------------------------
def test_a_stream_that_grows_mid_way_is_refused_at_its_first_large_frame(tmp_path):
    from helpers.hostile_media import growing_stream

    video = growing_stream(tmp_path / "grow.ts", small=64, large=512)
    import av

    with av.open(str(video)) as c:  # the headers show only the small frames
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (64, 64)
    with pytest.raises(MediaError) as e:
        decode.check_frame_sizes(video, max_pixels=128 * 128)
    assert e.value.status == "too_large" and "512x512" in str(e.value)
    converted = []
    real_converter = decode._converter

    def counting_converter(stream, cfg):
        convert = real_converter(stream, cfg)
        return lambda frame: converted.append((frame.width, frame.height)) or convert(frame)

    cfg = replace(CFG, num_frames=12, resize=32, crop=32)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode, "_converter", counting_converter)
        with pytest.raises(MediaError) as e:
            decode_trailer(video, cfg, max_pixels=128 * 128)
    assert e.value.status == "too_large"
    assert (512, 512) not in converted  # refused before a large frame was converted
    # Under the limit the same file decodes, every frame checked.
    assert decode.check_frame_sizes(video, max_pixels=512 * 512) == 10
    assert decode_trailer(video, cfg, max_pixels=512 * 512).frames.shape == (12, 32, 32, 3)
