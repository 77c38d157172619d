"""Video files a hostile client would send, made in a few milliseconds with PyAV."""

from __future__ import annotations

import io
from pathlib import Path


def _segment(width: int, height: int, frames: int) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            picture = np.full((height, width, 3), (40 * i) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def growing_stream(path: Path, small: int = 64, large: int = 1024, n_small: int = 8, n_large: int = 2):
    """An H.264 MPEG-TS whose headers say small x small and whose last frames are large x large.

    Two TS segments back to back: a demuxer reads the first one's size, the decoder meets the second's
    at its keyframe, mid-stream, as a player would.
    """
    path = Path(path)
    path.write_bytes(_segment(small, small, n_small) + _segment(large, large, n_large))
    return path
