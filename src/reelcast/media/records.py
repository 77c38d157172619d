"""One film's trailer entries: decoding it in a worker, and the records both engines store for it.

Both engines (local processes, Ray) build a film's entries with these functions, so they store the same
thing for the same trailer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from reelcast.config import Config, MediaConfig
from reelcast.encoders.audio import audio_input
from reelcast.store.base import Store

# Peak amplitude below which a decoded soundtrack counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4


def decode_job(path: str, media_cfg: dict[str, Any]) -> dict[str, Any]:
    """Worker process: decode one trailer into uint8 frames and a mono waveform (or a failure)."""
    from reelcast.media.decode import MediaError, decode_trailer

    t0 = time.perf_counter()
    try:
        d = decode_trailer(Path(path), MediaConfig(**media_cfg))
    except MediaError as e:
        return {"status": e.status, "message": str(e), "seconds": time.perf_counter() - t0}
    return {
        "status": "ok",
        "frames": d.frames,
        "audio": d.audio,
        "duration": d.duration,
        "warnings": list(getattr(d, "warnings", []) or []),
        "seconds": time.perf_counter() - t0,
    }


def decode_film(path: str, conf: dict[str, Any], node: str = "") -> dict[str, Any]:
    """Worker: one trailer decoded into frames, its audio input and status record (or a failure record).

    Both engines run it in their decode workers, so the audio front end runs there too, off the process
    that feeds the frame encoders.
    """
    cfg = Config.from_dict(conf)
    res = decode_job(path, conf["media"])
    out = {"status": res["status"], "message": res.get("message", ""), "decode_s": res["seconds"]}
    if res["status"] != "ok":
        return {**out, "record": failed_record(res["status"], res["message"], node), "frames": None}
    t0 = time.perf_counter()
    rec, audio = decoded_record(res, cfg, node)
    out["audio_s"] = time.perf_counter() - t0
    return {**out, "record": rec, "frames": res["frames"], "audio": audio}


def failed_record(status: str, message: str, node: str = "") -> dict[str, Any]:
    """The status record of a film whose trailer could not be fetched or decoded."""
    return {"status": status, "message": message, "video_ok": False, "audio_ok": False, "node": node}


def decoded_record(res: dict[str, Any], cfg: Config, node: str = "") -> tuple[dict, np.ndarray | None]:
    """A decoded trailer's status record and its audio input (None when it has no usable sound).

    Both engines build a film's entries here, so they store the same thing for the same trailer.
    """
    rec = {
        "status": "ok",
        "message": "",
        "video_ok": True,
        "audio_ok": False,
        "duration": res["duration"],
        "warnings": res["warnings"],
        "node": node,
    }
    wave, audio = res["audio"], None
    if wave is None:
        rec["audio_status"] = "no_audio"
    elif float(np.abs(wave).max(initial=0.0)) < SILENCE_PEAK:
        rec["audio_status"] = "silent"
    else:
        audio = audio_input(wave, cfg.audio, cfg.media.sample_rate).astype(np.float16)
        rec["audio_ok"], rec["audio_status"] = True, "ok"
    if not rec["audio_ok"]:
        rec["audio_message"] = f"trailer has {rec['audio_status'].replace('_', ' ')}: audio masked"
    return rec, audio


def write_film(store: Store, ids: tuple[str, str, str], key: str, feats, audio, rec: dict) -> None:
    """A film's frame features, audio input, then its status record (last: it marks the film done)."""
    fid, aid, sid = ids
    if feats is not None:
        store.put("frames", fid, key, np.asarray(feats).astype(np.float16))
    if audio is not None:
        store.put("audio", aid, key, audio)
    store.put_json("media", sid, key, rec)
