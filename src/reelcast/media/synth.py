"""Synthetic trailers: small, real H.264/AAC MP4 files rendered with PyAV.

Used by the test-suite and by `reelcast demo`. Every picture carries two probes that the tests read
back after decoding: a grey patch in the centre whose level encodes the presentation time
(0 at the start, 255 at the end), and a red block above it that marks "up" in the upright picture.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelcast.files import atomic_write, atomic_write_bytes

AUDIO_RATE = 22050  # deliberately not the model's 16 kHz, so decoding must resample
_GOP_SECONDS = 1.0  # a keyframe every second: several GOPs even in a 3 s clip
_VFR_TIME_BASE = Fraction(1, 1000)
# Timecode patch and "up" marker, as fractions of the upright picture. Both stay inside the
# default shorter-side-resize + centre-crop for landscape and portrait pictures alike.
TIMECODE_BOX = (0.42, 0.58, 0.42, 0.58)  # y0, y1, x0, x1
UP_MARKER_BOX = (0.24, 0.34, 0.40, 0.60)


def timecode_level(t: float, seconds: float) -> float:
    """The grey level (0-255) the centre patch shows at presentation time `t`."""
    return 255.0 * min(max(t / seconds, 0.0), 1.0)


def frame_times(seconds: float, fps: int, vfr: bool) -> np.ndarray:
    """Presentation times of the rendered pictures (uneven for `vfr`)."""
    n = max(1, round(seconds * fps))
    if not vfr:
        return np.arange(n) / fps
    # First half of the clip at 2x the nominal rate, second half at 0.5x: a reader that maps
    # frame index to time instead of using timestamps samples the wrong moments.
    dense = np.arange(0.0, seconds / 2, 1.0 / (2 * fps))
    sparse = np.arange(seconds / 2, seconds, 2.0 / fps)
    return np.concatenate([dense, sparse])


def _draw(t: float, seconds: float, w: int, h: int, rng_params: dict, yy: np.ndarray, xx: np.ndarray):
    img = np.empty((h, w, 3), np.uint8)
    img[:] = rng_params["background"]
    for s in rng_params["shapes"]:
        cx = (s["x0"] + s["vx"] * t) % 1.0 * w
        cy = (s["y0"] + s["vy"] * t) % 1.0 * h
        r = s["r"] * min(w, h)
        if s["round"]:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        else:
            mask = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
        img[mask] = s["color"]
    y0, y1, x0, x1 = UP_MARKER_BOX
    img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = (230, 20, 20)
    y0, y1, x0, x1 = TIMECODE_BOX
    img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = round(timecode_level(t, seconds))
    return img


def _rgb_to_yuv420p(img: np.ndarray) -> np.ndarray:
    # BT.601 limited range in integer arithmetic. Float maths (numpy reductions, swscale) gave
    # alignment-dependent rounding and so different files for the same seed.
    h, w = img.shape[:2]
    r, g, b = (img[..., c].astype(np.int32) for c in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16

    def block_sum(c: np.ndarray) -> np.ndarray:  # 2x2 sums for 4:2:0 chroma
        return c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]

    rs, gs, bs = block_sum(r), block_sum(g), block_sum(b)
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    out = np.empty((h * 3 // 2, w), np.uint8)  # all three results lie in 16..240 by construction
    out[:h] = y
    out[h : h + h // 4] = u.reshape(h // 4, w)
    out[h + h // 4 :] = v.reshape(h // 4, w)
    return out


def _scene(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    shapes = []
    for _ in range(4):
        shapes.append(
            {
                "x0": rng.random(),
                "y0": rng.random(),
                "vx": rng.uniform(-0.4, 0.4),
                "vy": rng.uniform(-0.4, 0.4),
                "r": rng.uniform(0.06, 0.16),
                "round": bool(rng.integers(2)),
                "color": tuple(int(c) for c in rng.integers(40, 256, 3)),
            }
        )
    return {"background": tuple(int(c) for c in rng.integers(0, 90, 3)), "shapes": shapes}


def tone_frequency(seed: int) -> float:
    """Pitch (Hz) of the soundtrack for `seed`: one of the 25 semitones from 220 to 880 Hz."""
    return 220.0 * 2.0 ** ((seed * 7 % 25) / 12.0)


def _tone(seconds: float, seed: int) -> np.ndarray:
    # The seed's pitch with a slow amplitude wobble, so loudness is not constant.
    freq = tone_frequency(seed)
    t = np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE
    env = 0.5 + 0.4 * np.sin(2 * np.pi * 2.0 * t)
    return (0.3 * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def render_trailer(
    path: str | Path,
    seconds: float = 3.0,
    fps: int = 24,
    width: int = 320,
    height: int = 240,
    audio: bool = True,
    seed: int = 0,
    vfr: bool = False,
    rotate: int | None = None,
    volume: float = 1.0,
) -> Path:
    """Write a deterministic synthetic H.264 (+ AAC) MP4; returns the path.

    `volume` scales the soundtrack; 0 gives a sound track of silence (present, but nothing in it).

    `width`/`height` are the upright (displayed) size. With `rotate` (degrees clockwise, like a
    phone's rotate tag) the pictures are stored turned the other way and a display matrix is
    written, so only a reader that honours the rotation sees them upright.
    """
    if seconds <= 0 or fps <= 0 or width < 16 or height < 16:
        raise ValueError(f"render_trailer: bad size/duration ({seconds} s, {fps} fps, {width}x{height})")
    if rotate not in (None, 0, 90, 180, 270, -90):
        raise ValueError(f"render_trailer: rotate must be a multiple of 90 degrees, got {rotate}")
    k = (rotate or 0) // 90  # store turned counter-clockwise (np.rot90); the player turns it back
    coded_w, coded_h = (height, width) if k % 2 else (width, height)
    if coded_w % 2 or coded_h % 2:
        raise ValueError(f"render_trailer: yuv420p needs even sizes, got {width}x{height}")

    scene = _scene(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    times = frame_times(seconds, fps, vfr)
    path = Path(path)

    def write(tmp: Path) -> None:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = coded_w, coded_h, "yuv420p"
            vs.gop_size = max(1, round(_GOP_SECONDS * fps))
            # One thread and no macroblock-tree rate control: with mbtree on, x264 gave different
            # bytes for the same input from run to run (measured), and the clips must be reproducible.
            vs.codec_context.options = {
                "preset": "veryfast",
                "crf": "20",
                "threads": "1",
                "x264-params": "mbtree=0",
            }
            if vfr:
                vs.codec_context.time_base = _VFR_TIME_BASE
            if k:
                vs.set_display_rotation(-(rotate or 0))
            aus = None
            if audio:
                aus = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
            for i, t in enumerate(times):
                img = _draw(float(t), seconds, width, height, scene, yy, xx)
                if k:
                    img = np.ascontiguousarray(np.rot90(img, k))
                frame = av.VideoFrame.from_ndarray(_rgb_to_yuv420p(img), format="yuv420p")
                frame.pts = round(t / _VFR_TIME_BASE) if vfr else i
                frame.time_base = _VFR_TIME_BASE if vfr else Fraction(1, fps)
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
            if aus is not None:
                wave = _tone(seconds, seed) * np.float32(volume)
                size = aus.codec_context.frame_size or 1024
                for start in range(0, len(wave), size):
                    chunk = wave[start : start + size]
                    if len(chunk) < size:
                        chunk = np.pad(chunk, (0, size - len(chunk)))
                    af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    af.sample_rate = AUDIO_RATE
                    af.pts = start
                    af.time_base = Fraction(1, AUDIO_RATE)
                    out.mux(aus.encode(af))
                out.mux(aus.encode(None))

    atomic_write(path, write)
    return path


def write_corrupt_copy(
    src: str | Path,
    dst: str | Path,
    mode: str = "garble",
    start: float = 0.4,
    end: float = 0.6,
    seed: int = 0,
) -> Path:
    """Copy a media file with damage: `garble` overwrites bytes [start, end) (fractions of the size)
    with noise, `truncate` keeps only the first `start` fraction."""
    data = bytearray(Path(src).read_bytes())
    a, b = math.floor(len(data) * start), math.floor(len(data) * end)
    if mode == "truncate":
        data = data[:a]
    elif mode == "garble":
        data[a:b] = np.random.default_rng(seed).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    else:
        raise ValueError(f"write_corrupt_copy: mode must be 'garble' or 'truncate', got {mode!r}")
    atomic_write_bytes(Path(dst), bytes(data))
    return Path(dst)
