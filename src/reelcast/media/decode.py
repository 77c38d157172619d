"""Trailer decoding with PyAV: evenly spaced RGB frames and a fixed-length mono waveform.

Frame sampling uses a "planned" decode, chosen by measurement on a 55 s 720p H.264 trailer
(30 frames): a first pass reads only packet headers (milliseconds), picks for each target time the
packet whose timestamp is nearest, and the second pass sends the decoder only what those packets
need: GOPs without a target are never decoded, each GOP stops at its last target, and the
decoder drops non-reference pictures except the targets themselves (`skip_frame`). The frames are
pixel-identical to a full sequential decode at about two thirds of its time; seeking per target was
two to three times slower than sequential, and keyframes alone give too few frames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from reelcast.config import MediaConfig

CORRUPT = "corrupt"
EMPTY_FILE = "empty_file"
NO_VIDEO = "no_video"
UNREADABLE = "unreadable"
TOO_LARGE = "too_large"

# Largest decoded picture converted (width x height). Stream headers give only the first frame's size and
# a stream may switch to 8192x8192 mid-way (200 MB a converted frame), so every decoded frame is checked.
MAX_FRAME_PIXELS = 4096 * 4096

# Loudness target for the waveform: -20 dBFS RMS leaves ~20 dB of headroom for peaks, the usual
# level for speech/music model inputs, and makes quiet and loud trailers comparable.
TARGET_DBFS = -20.0
# Below -100 dBFS a track is treated as silent and left as it is: amplifying it would only turn
# dither noise into a loud hiss.
SILENCE_DBFS = -100.0
# Downscaling by 3x or more aliases with bilinear filtering; area averaging costs the same here.
_INTERPOLATION = "AREA"


class MediaError(Exception):
    """A trailer that cannot be decoded; `.status` says why (corrupt, empty_file, no_video, unreadable,
    too_large)."""

    def __init__(self, status: str, path: str | Path, message: str):
        super().__init__(f"{path}: {message}")
        self.status = status
        self.path = Path(path)


@dataclass
class DecodedTrailer:
    """What the extractor needs from one trailer file."""

    frames: np.ndarray  # (num_frames, crop, crop, 3) uint8 RGB
    audio: np.ndarray | None  # (round(audio_seconds * sample_rate),) float32, None = no audio stream
    duration: float  # seconds of video
    status: str = "ok"  # ok | degraded (decoded, but see warnings)
    warnings: list[str] = field(default_factory=list)


# ---- opening --------------------------------------------------------------------------------------


def _open(path: Path) -> av.container.InputContainer:
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise MediaError(UNREADABLE, path, "file does not exist") from None
    except OSError as e:
        raise MediaError(UNREADABLE, path, f"cannot read file ({e.strerror or e})") from None
    if path.is_dir():
        raise MediaError(UNREADABLE, path, "is a directory, not a media file")
    if size == 0:
        raise MediaError(EMPTY_FILE, path, "file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except av.error.InvalidDataError as e:
        raise MediaError(CORRUPT, path, f"not a readable media container ({e})") from None
    except (av.error.FFmpegError, OSError) as e:
        raise MediaError(UNREADABLE, path, f"cannot open ({e})") from None


# ---- frame sampling -------------------------------------------------------------------------------


@dataclass
class _Plan:
    pts: list[int | None]  # per demuxed video packet, in decode order
    keyframe: list[bool]
    time_base: float
    truncated: str | None  # demux error that cut the packet list short


def _scan(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> _Plan:
    """First pass: packet headers only (no decoding)."""
    pts: list[int | None] = []
    key: list[bool] = []
    truncated = None
    try:
        for p in container.demux(stream):
            if p.size == 0:  # the demuxer's end-of-stream marker
                continue
            pts.append(p.pts)
            key.append(bool(p.is_keyframe))
    except av.error.FFmpegError as e:
        truncated = str(e)
    return _Plan(pts, key, float(stream.time_base or 0.0), truncated)


def _targets(start: float, end: float, cfg: MediaConfig, warnings: list[str]) -> np.ndarray:
    duration = end - start
    a, b = start + cfg.trim_start, end - cfg.trim_end
    if b <= a:
        if cfg.trim_start or cfg.trim_end:
            warnings.append(
                f"clip is {duration:.2f} s, shorter than trim_start + trim_end; sampled the whole clip"
            )
        a, b = start, end
    # Centres of num_frames equal slices: never the very first/last instant, evenly spread.
    return a + (np.arange(cfg.num_frames) + 0.5) * (b - a) / cfg.num_frames


def _feed_plan(plan: _Plan, wanted: set[int]) -> list[bool]:
    """Which packets must go to the decoder so that every wanted packet decodes correctly."""
    n = len(plan.pts)
    starts = [0] + [i for i in range(1, n) if plan.keyframe[i]]
    # Open GOPs (pictures after a keyframe in decode order but shown before it) reference the
    # previous GOP, so skipping GOPs would corrupt them: then feed everything up to the last target.
    open_gop = any(
        plan.pts[i] is not None and plan.pts[s] is not None and plan.pts[i] < plan.pts[s]
        for s, e in zip(starts, [*starts[1:], n], strict=True)
        for i in range(s + 1, e)
    )
    feed = [False] * n
    if open_gop:
        last = max(wanted)
        return [i <= last for i in range(n)]
    for s, e in zip(starts, [*starts[1:], n], strict=True):
        inside = [i for i in wanted if s <= i < e]
        if inside:  # references precede their users in decode order: stop at the last target
            for i in range(s, max(inside) + 1):
                feed[i] = True
    return feed


class _Picker:
    """Streams decoded frames; each target time gets the nearest frame, converted once."""

    def __init__(self, targets: np.ndarray, convert: Callable[[av.VideoFrame], np.ndarray]):
        self.targets = targets
        self.out: list[np.ndarray | None] = [None] * len(targets)
        self.j = 0
        self.prev: tuple[float, av.VideoFrame] | None = None
        self.convert = convert
        self._last: tuple[av.VideoFrame, np.ndarray] | None = None
        self.decoded = 0

    def _take(self, frame: av.VideoFrame) -> np.ndarray:
        if self._last is None or self._last[0] is not frame:
            self._last = (frame, self.convert(frame))
        return self._last[1]

    def push(self, t: float, frame: av.VideoFrame) -> None:
        if self.prev is not None and t < self.prev[0]:
            return  # out-of-order output (broken stream): keep the monotonic sequence
        self.decoded += 1
        while self.j < len(self.targets) and t >= self.targets[self.j]:
            tj = self.targets[self.j]
            use_prev = self.prev is not None and tj - self.prev[0] <= t - tj
            self.out[self.j] = self._take(self.prev[1] if use_prev else frame)  # type: ignore[index]
            self.j += 1
        self.prev = (t, frame)

    def finish(self) -> list[np.ndarray]:
        while self.j < len(self.targets) and self.prev is not None:
            self.out[self.j] = self._take(self.prev[1])  # past the last frame: repeat it
            self.j += 1
        return [o for o in self.out if o is not None]


def _rotation(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Quarter turns counter-clockwise (np.rot90's k) that show the decoded picture upright."""
    ccw = frame.rotation  # display matrix side data (FFmpeg attaches the stream's to each frame)
    if not ccw:
        tag = stream.metadata.get("rotate")  # legacy tag: clockwise degrees
        if tag:
            try:
                ccw = -int(float(tag))
            except ValueError:
                ccw = 0
    return int(round(ccw / 90.0)) % 4


def _converter(
    stream: av.video.stream.VideoStream, cfg: MediaConfig
) -> Callable[[av.VideoFrame], np.ndarray]:
    sar = stream.sample_aspect_ratio
    sar_f = float(sar) if sar else 1.0

    def convert(frame: av.VideoFrame) -> np.ndarray:
        w, h = frame.width * sar_f, frame.height  # display size (anamorphic pixels widened)
        scale = cfg.resize / min(w, h)
        nw, nh = max(cfg.crop, round(w * scale)), max(cfg.crop, round(h * scale))
        # swscale resizes and converts to RGB in one step, on the kept frames only.
        img = frame.to_ndarray(width=nw, height=nh, format="rgb24", interpolation=_INTERPOLATION)
        y0, x0 = (nh - cfg.crop) // 2, (nw - cfg.crop) // 2
        img = img[y0 : y0 + cfg.crop, x0 : x0 + cfg.crop]
        # The crop is square and centred, so rotating after cropping equals cropping the rotated picture.
        k = _rotation(frame, stream)
        return np.ascontiguousarray(np.rot90(img, k) if k else img)

    return convert


def _check_cfg(cfg: MediaConfig) -> None:
    if cfg.num_frames < 1:
        raise ValueError(f"media.num_frames must be at least 1, got {cfg.num_frames}")
    if cfg.crop < 1 or cfg.crop > cfg.resize:
        raise ValueError(f"media.crop ({cfg.crop}) must be between 1 and media.resize ({cfg.resize})")


def _decode_packets(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    feed: list[bool] | None,
    exact: set[int] | None,
    plan: _Plan,
) -> Iterator[av.VideoFrame | Exception]:
    """Second pass: yields decoded frames (and decode errors, which the caller counts and skips)."""
    cc = stream.codec_context
    mode = "DEFAULT"
    i = 0
    aligned = True
    try:
        for p in container.demux(stream):
            if p.size == 0:
                continue
            idx = i
            i += 1
            if feed is not None and aligned:
                if idx >= len(feed) or plan.pts[idx] != p.pts:
                    aligned = False  # demux differs from the scan (should not happen): decode all
                    if mode != "DEFAULT":
                        cc.skip_frame = mode = "DEFAULT"
                elif not feed[idx]:
                    continue
                else:
                    want = "DEFAULT" if idx in exact else "NONREF"  # type: ignore[operator]
                    if want != mode:
                        cc.skip_frame = mode = want
            try:
                yield from stream.decode(p)
            except av.error.FFmpegError as e:
                yield e
    except av.error.FFmpegError as e:  # damaged container: keep what was decoded so far
        yield e
    if mode != "DEFAULT":
        cc.skip_frame = "DEFAULT"
    try:
        yield from stream.decode(None)
    except av.error.FFmpegError as e:
        yield e


def frame_size_problem(frame: av.VideoFrame, max_pixels: int) -> str | None:
    """Why a decoded frame is too large to convert, or None."""
    if frame.width * frame.height <= max_pixels:
        return None
    side = math.isqrt(max_pixels)
    return (
        f"a video frame is {frame.width}x{frame.height} pixels; at most {max_pixels} pixels a frame "
        f"({side}x{side}) are decoded"
    )


def check_frame_sizes(path: str | Path, max_pixels: int = MAX_FRAME_PIXELS) -> int:
    """Decode every video frame (without converting any) and refuse the file at the first one over
    `max_pixels` (MediaError too_large); the number of frames checked. No video stream: 0."""
    path = Path(path)
    n = 0
    with _open(path) as container:
        if not container.streams.video:
            return 0
        stream = container.streams.video[0]
        for item in _decode_packets(container, stream, None, None, _Plan([], [], 0.0, None)):
            if isinstance(item, Exception):
                continue  # damage is the decoder's to report; only the size matters here
            why = frame_size_problem(item, max_pixels)
            if why:
                raise MediaError(TOO_LARGE, path, why)
            n += 1
    return n


def _sample(
    path: Path, cfg: MediaConfig, strategy: str = "planned", max_pixels: int = MAX_FRAME_PIXELS
) -> tuple[np.ndarray, float, list[str]]:
    _check_cfg(cfg)
    if strategy not in ("planned", "sequential"):
        raise ValueError(f"unknown frame sampling strategy {strategy!r} (planned | sequential)")
    warnings: list[str] = []
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(NO_VIDEO, path, "has no video stream")
        plan = _scan(container, container.streams.video[0])
        declared = container.duration / 1e6 if container.duration else None
    if plan.truncated:
        warnings.append(f"container damaged after {len(plan.pts)} video packets ({plan.truncated})")
    if not plan.pts:
        raise MediaError(CORRUPT, path, "video stream has no readable packets")

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = plan.time_base
        has_pts = tb > 0 and all(p is not None for p in plan.pts)
        if has_pts:
            times = np.array(plan.pts, dtype=np.float64) * tb
            start, last = float(times.min()), float(times.max())
            # The last picture lasts one frame interval; estimate it from the median spacing.
            steps = np.diff(np.unique(times))
            end = last + (float(np.median(steps)) if len(steps) else 0.0)
        else:
            rate = float(stream.guessed_rate or 25)
            start, end = 0.0, len(plan.pts) / rate
        duration = end - start
        if declared and declared - duration > max(1.0, 0.1 * declared):
            warnings.append(
                f"file looks truncated: {duration:.1f} s of video readable, {declared:.1f} s declared"
            )

        few = len(plan.pts) <= cfg.num_frames
        if few and has_pts:
            # Fewer pictures than requested: every picture once, in order, then the last repeated.
            order = np.sort(times)
            targets = np.concatenate([order, np.full(cfg.num_frames - len(order), np.inf)])
            warnings.append(f"only {len(plan.pts)} video frames for {cfg.num_frames} samples")
        else:
            targets = _targets(start, end, cfg, warnings)

        feed = exact = None
        if strategy == "planned" and has_pts:
            order_idx = np.argsort(times, kind="stable")
            sorted_t = times[order_idx]
            exact = set()
            for t in targets[np.isfinite(targets)]:
                k = int(np.searchsorted(sorted_t, t))
                cands = [c for c in (k - 1, k) if 0 <= c < len(sorted_t)]
                best = min(cands, key=lambda c: (abs(sorted_t[c] - t), c))
                exact.add(int(order_idx[best]))
            feed = _feed_plan(plan, exact)

        picker = _Picker(targets, _converter(stream, cfg))
        errors = 0
        fallback_rate = float(stream.guessed_rate or 25)
        for item in _decode_packets(container, stream, feed, exact, plan):
            if isinstance(item, Exception):
                errors += 1
                continue
            why = frame_size_problem(item, max_pixels)
            if why:  # before the picker converts (or even keeps) it
                raise MediaError(TOO_LARGE, path, why)
            # The stream's time base: frames flushed out of the decoder carry none of their own.
            has_t = item.pts is not None and tb > 0
            t = item.pts * tb if has_t else start + picker.decoded / fallback_rate
            picker.push(t, item)
        frames = picker.finish()

    if not frames:
        raise MediaError(CORRUPT, path, f"no video frame could be decoded ({errors} decode errors)")
    if errors:
        warnings.append(f"{errors} damaged video packets skipped")
    return np.stack(frames), float(duration), warnings


def sample_frames(
    path: str | Path, cfg: MediaConfig, strategy: str = "planned", max_pixels: int = MAX_FRAME_PIXELS
) -> np.ndarray:
    """(num_frames, crop, crop, 3) uint8 RGB frames spread evenly over the trimmed clip."""
    return _sample(Path(path), cfg, strategy, max_pixels)[0]


# ---- audio ----------------------------------------------------------------------------------------


def _read_audio(path: Path, offset: float, n_out: int, rate: int) -> tuple[np.ndarray, int] | None:
    """Mono float32 samples from `offset` (at most n_out), and the count of damaged packets skipped."""
    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if offset > 0 and stream.time_base:
            try:
                container.seek(int(offset / stream.time_base), stream=stream, backward=True)
            except av.error.FFmpegError:
                container.seek(0)  # unseekable input: decode from the start and skip samples
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        have = 0
        skip: int | None = None
        errors = 0

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal have, skip
            for f in frames:
                a = f.to_ndarray().reshape(-1)
                if skip is None:
                    skip = 0
                if skip > 0:
                    cut = min(skip, len(a))
                    a, skip = a[cut:], skip - cut
                chunks.append(a)
                have += len(a)

        try:
            for p in container.demux(stream):
                if have >= n_out:
                    break
                try:
                    decoded = stream.decode(p)
                except av.error.FFmpegError:
                    errors += p.size > 0
                    continue
                for frame in decoded:
                    if skip is None and frame.pts is not None and stream.time_base:
                        # Samples before the offset (the seek lands on an earlier packet) are dropped.
                        skip = max(0, round((offset - float(frame.pts * stream.time_base)) * rate))
                    take(resampler.resample(frame))
        except av.error.FFmpegError:
            errors += 1  # damaged container: keep what was read
        take(resampler.resample(None))  # flush the resampler's buffered tail
    wave = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return wave[:n_out].astype(np.float32, copy=False), errors


def normalise_loudness(wave: np.ndarray) -> np.ndarray:
    """Scale to TARGET_DBFS RMS; near-silent input is returned unchanged."""
    if wave.size == 0:
        return wave
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    if rms <= 10 ** (SILENCE_DBFS / 20):
        return wave
    # No clipping afterwards: the model reads floats, and clipping would distort loud trailers.
    return (wave * (10 ** (TARGET_DBFS / 20) / rms)).astype(np.float32)


def _audio(path: Path, cfg: MediaConfig, warnings: list[str]) -> np.ndarray | None:
    n_out = round(cfg.audio_seconds * cfg.sample_rate)
    if n_out < 1:
        raise ValueError(
            f"media.audio_seconds * media.sample_rate must give at least one sample, got {n_out}"
        )
    got = _read_audio(path, cfg.audio_offset, n_out, cfg.sample_rate)
    if got is None:
        return None
    wave, errors = got
    if wave.size == 0 and cfg.audio_offset > 0:
        warnings.append(f"audio is shorter than audio_offset={cfg.audio_offset} s; used it from the start")
        wave, errors = _read_audio(path, 0.0, n_out, cfg.sample_rate)  # type: ignore[misc]
    if errors:
        warnings.append(f"{errors} damaged audio packets skipped")
    if wave.size < n_out:
        # Normalise the real audio only, so the zero padding does not lower its measured loudness.
        wave = np.concatenate([normalise_loudness(wave), np.zeros(n_out - wave.size, np.float32)])
        return wave
    return normalise_loudness(wave)


def load_audio(path: str | Path, cfg: MediaConfig) -> np.ndarray | None:
    """Mono float32 waveform of audio_seconds at sample_rate from audio_offset; None without audio."""
    return _audio(Path(path), cfg, [])


# ---- both -----------------------------------------------------------------------------------------


def decode_trailer(path: str | Path, cfg: MediaConfig, max_pixels: int = MAX_FRAME_PIXELS) -> DecodedTrailer:
    """Frames and audio of one trailer; damaged audio is reported as a warning and left out."""
    path = Path(path)
    frames, duration, warnings = _sample(path, cfg, max_pixels=max_pixels)
    try:
        audio = _audio(path, cfg, warnings)
    except MediaError as e:  # the pictures decoded; losing the sound only masks one modality
        warnings.append(f"audio left out: {e}")
        audio = None
    return DecodedTrailer(frames, audio, duration, "degraded" if warnings else "ok", warnings)
