"""Trailer acquisition with the yt-dlp and urllib boundaries replaced by fakes (no network)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import yt_dlp
from helpers.loopback_http import LoopbackHTTP

from reelcast.config import MediaConfig
from reelcast.media import download as dl
from reelcast.media.download import fetch_many, fetch_trailer, pace
from reelcast.media.refs import TrailerRef

VID = "K26_sDKnvMU"
CFG = MediaConfig(retries=2, timeout=7.0, max_height=360, download_workers=2)


class FakeYoutubeDL:
    """Stands in for yt_dlp.YoutubeDL: follows a script of outcomes, one per extract_info call."""

    script: list = []
    calls: list = []

    def __init__(self, params):
        self.params = params

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_info(self, url, download=True):
        vid = url.rsplit("=", 1)[1]
        FakeYoutubeDL.calls.append((vid, self.params))
        outcome = FakeYoutubeDL.script.pop(0) if FakeYoutubeDL.script else "ok"
        folder = Path(self.params["outtmpl"]).parent
        if outcome == "partial":  # died half-way: only yt-dlp's .part file exists
            (folder / f"{vid}.mp4.part").write_bytes(b"\x00" * 1000)
            raise yt_dlp.utils.DownloadError(
                "ERROR: unable to download video data: <urlopen error timed out>"
            )
        if outcome != "ok":
            raise yt_dlp.utils.DownloadError(outcome)
        out = folder / f"{vid}.mp4"
        out.write_bytes(b"fake mp4 " + vid.encode())
        return {"id": vid, "ext": "mp4", "requested_downloads": [{"filepath": str(out)}]}


@pytest.fixture
def fake_ytdl(monkeypatch):
    FakeYoutubeDL.script = []
    FakeYoutubeDL.calls = []
    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYoutubeDL)
    return FakeYoutubeDL


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def yt(vid: str = VID) -> TrailerRef:
    return TrailerRef("youtube", vid)


def test_success_is_cached_and_reused(fake_ytdl, tmp_path):
    r = fetch_trailer(yt(), CFG, tmp_path, sleep=Sleeps())
    assert r.status == "ok" and r.attempts == 1 and not r.cached
    assert r.path == tmp_path / f"yt-{VID}.mp4" and r.path.read_bytes() == b"fake mp4 " + VID.encode()
    params = fake_ytdl.calls[0][1]
    assert params["socket_timeout"] == 7.0 and "height<=360" in params["format"]
    assert params["noplaylist"] and params["quiet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # work folder removed

    again = fetch_trailer(yt(), CFG, tmp_path, sleep=Sleeps())
    assert again.status == "ok" and again.cached and again.path == r.path
    assert len(fake_ytdl.calls) == 1


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("ERROR: [youtube] K26_sDKnvMU: Private video. Sign in if you've been granted access", "private"),
        (
            "ERROR: [youtube] K26_sDKnvMU: Video unavailable. This video has been removed by the uploader",
            "unavailable",
        ),
        (
            "ERROR: [youtube] K26_sDKnvMU: Sign in to confirm your age. This video may be inappropriate",
            "age_restricted",
        ),
        (
            "ERROR: [youtube] K26_sDKnvMU: The uploader has not made this video available in your country",
            "geo_blocked",
        ),
        ("ERROR: [youtube] K26_sDKnvMU: Requested format is not available", "unavailable"),
    ],
)
def test_permanent_errors_are_not_retried(fake_ytdl, tmp_path, message, status):
    fake_ytdl.script = [message]
    sleeps = Sleeps()
    r = fetch_trailer(yt(), CFG, tmp_path, sleep=sleeps)
    assert r.status == status and r.attempts == 1 and r.path is None
    assert sleeps == [] and len(fake_ytdl.calls) == 1
    assert not r.message.startswith("ERROR") and "K26_sDKnvMU" in r.message


def test_transient_error_then_success_backs_off(fake_ytdl, tmp_path):
    fake_ytdl.script = [
        "ERROR: Unable to download webpage: <urlopen error [Errno -3] Temporary failure in name resolution>",
        "ERROR: Unable to download webpage: HTTP Error 503: Service Unavailable",
        "ok",
    ]
    sleeps = Sleeps()
    r = fetch_trailer(yt(), CFG, tmp_path, sleep=sleeps)
    assert r.status == "ok" and r.attempts == 3 and r.path.exists()
    assert sleeps == [dl.BACKOFF_SECONDS, 2 * dl.BACKOFF_SECONDS]


def test_transient_error_gives_up_after_retries(fake_ytdl, tmp_path):
    fake_ytdl.script = ["ERROR: Read timed out."] * 5
    sleeps = Sleeps()
    r = fetch_trailer(yt(), replace(CFG, retries=2), tmp_path, sleep=sleeps)
    assert r.status == "timeout" and r.attempts == 3 and len(sleeps) == 2
    assert sleeps[1] == 2 * sleeps[0]


def test_partial_download_is_never_a_finished_one(fake_ytdl, tmp_path):
    fake_ytdl.script = ["partial"]
    r = fetch_trailer(yt(), replace(CFG, retries=0), tmp_path, sleep=Sleeps())
    assert r.status == "timeout" and r.path is None
    assert list(tmp_path.iterdir()) == []  # neither the .part file nor the work folder is left
    # A stray partial file from another tool is not a cache hit either.
    (tmp_path / f"yt-{VID}.mp4.part").write_bytes(b"half")
    offline = fetch_trailer(yt(), replace(CFG, offline=True), tmp_path, sleep=Sleeps())
    assert offline.status == "offline_miss"
    r = fetch_trailer(yt(), CFG, tmp_path, sleep=Sleeps())
    assert r.status == "ok" and r.path.name == f"yt-{VID}.mp4" and len(fake_ytdl.calls) == 2


def test_offline_uses_only_the_cache(fake_ytdl, tmp_path):
    (tmp_path / f"yt-{VID}.webm").write_bytes(b"cached")
    offline = replace(CFG, offline=True)
    hit = fetch_trailer(yt(), offline, tmp_path, sleep=Sleeps())
    assert hit.status == "ok" and hit.path == tmp_path / f"yt-{VID}.webm"
    miss = fetch_trailer(yt("AAAAAAAAAAA"), offline, tmp_path, sleep=Sleeps())
    assert miss.status == "offline_miss" and "AAAAAAAAAAA" in miss.message and str(tmp_path) in miss.message
    assert fake_ytdl.calls == []


def test_local_files(tmp_path):
    f = tmp_path / "a.mp4"
    f.write_bytes(b"x")
    assert fetch_trailer(TrailerRef("file", str(f)), CFG, tmp_path / "dl").path == f
    missing = fetch_trailer(TrailerRef("file", str(tmp_path / "b.mp4")), CFG, tmp_path / "dl")
    assert missing.status == "not_found" and "b.mp4" in missing.message


def test_fetch_many_parallel_dedup_and_manifest(fake_ytdl, tmp_path):
    fake_ytdl.script = []  # every download succeeds except the private one below
    private = "PPPPPPPPPPP"
    original = FakeYoutubeDL.extract_info

    def extract_info(self, url, download=True):
        if url.endswith(private):
            FakeYoutubeDL.calls.append((private, self.params))
            raise yt_dlp.utils.DownloadError("ERROR: [youtube] PPPPPPPPPPP: Private video")
        return original(self, url, download)

    FakeYoutubeDL.extract_info = extract_info
    try:
        (tmp_path / "dl").mkdir()
        (tmp_path / "dl" / "manifest.json").write_text(json.dumps({"old": {"status": "ok"}}))
        refs = {
            "1": yt(VID),
            "2": yt(VID),  # the same trailer for two films: downloaded once
            "3": yt("BBBBBBBBBBB"),
            "4": yt(private),
            "5": TrailerRef("file", str(tmp_path / "nope.mp4")),
        }
        out = fetch_many(refs, CFG, tmp_path / "dl", progress=False, sleep=Sleeps())
    finally:
        FakeYoutubeDL.extract_info = original
    assert list(out) == ["1", "2", "3", "4", "5"]
    assert [out[k].status for k in out] == ["ok", "ok", "ok", "private", "not_found"]
    assert out["1"].path == out["2"].path
    assert sorted(v for v, _ in fake_ytdl.calls) == sorted([VID, "BBBBBBBBBBB", private])
    manifest = json.loads((tmp_path / "dl" / "manifest.json").read_text())
    assert manifest["old"] == {"status": "ok"}  # earlier entries are kept
    assert manifest["4"]["status"] == "private" and "Private video" in manifest["4"]["message"]
    assert manifest["1"]["path"] == str(tmp_path / "dl" / f"yt-{VID}.mp4")
    assert manifest["5"]["path"] is None and manifest["3"]["status"] == "ok"


# ---- plain media URLs (media/safe_fetch.py; a server on 127.0.0.1 the test allows) ---------------------


URL_CFG = replace(CFG, allow_private_hosts=True, timeout=2.0, download_deadline=5.0)


def test_url_download(tmp_path):
    body = b"video bytes" * 100
    with LoopbackHTTP(files={"/t/film.mp4": body}) as srv:
        ref = TrailerRef("url", srv.url("/t/film.mp4"))
        r = fetch_trailer(ref, URL_CFG, tmp_path, sleep=Sleeps())
    assert r.status == "ok" and r.path == tmp_path / f"{ref.cache_key}.mp4"
    assert r.path.read_bytes() == body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/status/404", "not_found"),
        ("/status/403", "unavailable"),
        ("/stall?seconds=5", "timeout"),
        ("/page", "invalid"),
        ("/short", "network_error"),  # connection dropped mid-body
    ],
)
def test_url_failures_leave_nothing_behind(tmp_path, path, status):
    cfg = replace(URL_CFG, download_deadline=0.5)
    with LoopbackHTTP() as srv:
        r = fetch_trailer(TrailerRef("url", srv.url(path)), cfg, tmp_path, sleep=Sleeps())
    assert r.status == status and r.path is None
    assert r.attempts == (cfg.retries + 1 if status in dl.TRANSIENT else 1)
    assert list(tmp_path.iterdir()) == []


def test_format_prefers_single_small_file():
    f = dl.youtube_format(480, can_merge=False)
    assert f.startswith("b[height<=480][ext=mp4]/b[height<=480]/") and "+" not in f
    assert "bv[height<=480]+ba" in dl.youtube_format(480, can_merge=True)


# ---- downloads at scale: rate limits (HTTP 429), the bot check, cookies, a per-machine pause, nodes ----

SCALE_CFG = MediaConfig(retries=2, timeout=7.0, rate_limit_wait=30.0, download_workers=2)


def test_http_429_waits_long_and_doubles(fake_ytdl, tmp_path):
    fake_ytdl.script = ["ERROR: Unable to download webpage: HTTP Error 429: Too Many Requests"] * 2 + ["ok"]
    sleeps = Sleeps()
    r = fetch_trailer(yt(), SCALE_CFG, tmp_path, sleep=sleeps)
    assert r.status == "ok" and r.attempts == 3 and sleeps == [30.0, 60.0]
    fake_ytdl.script = ["ERROR: HTTP Error 429: Too Many Requests"] * 5
    r = fetch_trailer(yt("CCCCCCCCCCC"), SCALE_CFG, tmp_path, sleep=Sleeps())
    assert r.status == "rate_limited" and r.attempts == SCALE_CFG.retries + 1
    assert "rate_limited" in dl.RETRY_LATER  # never stored as the film's final status


def test_url_429_honours_retry_after(tmp_path):
    cfg = replace(SCALE_CFG, allow_private_hosts=True, timeout=2.0)
    with LoopbackHTTP() as srv:
        sleeps = Sleeps()
        r = fetch_trailer(
            TrailerRef("url", srv.url("/status/429?retry_after=200")), cfg, tmp_path, sleep=sleeps
        )
        assert r.status == "rate_limited" and srv.hits["/status/429"] == 3
        assert sleeps == [200.0, 200.0]  # the server's wait, longer than ours (30, 60)
        big = replace(cfg, rate_limit_wait=5000.0)
        sleeps = Sleeps()
        fetch_trailer(
            TrailerRef("url", srv.url("/status/429?retry_after=200&b=1")), big, tmp_path, sleep=sleeps
        )
    assert sleeps == [dl.MAX_RATE_LIMIT_WAIT] * 2


def test_bot_check_is_its_own_status_and_not_retried(fake_ytdl, tmp_path):
    fake_ytdl.script = ["ERROR: [youtube] K26_sDKnvMU: Sign in to confirm you’re not a bot. Use --cookies"]
    sleeps = Sleeps()
    r = fetch_trailer(yt(), SCALE_CFG, tmp_path, sleep=sleeps)
    assert r.status == "bot_check" and r.attempts == 1 and sleeps == []
    assert "bot_check" in dl.RETRY_LATER  # a later run with --cookies tries again


def test_cookies_reach_yt_dlp_and_a_missing_file_is_reported(fake_ytdl, tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    r = fetch_trailer(yt(), replace(SCALE_CFG, cookies=str(cookies)), tmp_path / "dl", sleep=Sleeps())
    assert r.status == "ok" and fake_ytdl.calls[0][1]["cookiefile"] == str(cookies)
    fetch_trailer(yt("DDDDDDDDDDD"), SCALE_CFG, tmp_path / "dl")
    assert "cookiefile" not in fake_ytdl.calls[1][1]
    no_file = replace(SCALE_CFG, cookies=str(tmp_path / "nope.txt"))
    bad = fetch_trailer(yt("EEEEEEEEEEE"), no_file, tmp_path / "dl")
    assert bad.status == "invalid" and "nope.txt" in bad.message and len(fake_ytdl.calls) == 2


def test_pause_is_shared_by_every_downloader_of_a_folder(tmp_path):
    assert pace(tmp_path, 0.0) is None and not (tmp_path / dl.PACE_LOCK).exists()
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(s):
        with lock:
            waits.append(s)

    threads = [
        threading.Thread(target=pace, args=(tmp_path, 30.0), kwargs={"sleep": sleep}) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The first of three starts at once; each later one waits out the pause after the one before.
    # (The fake sleep returns at once, so each later start sees the previous one just now.)
    assert len(waits) == 2 and all(29.0 < w <= 30.0 for w in waits)


def test_downloads_are_paced_and_record_their_node(fake_ytdl, tmp_path):
    sleeps = Sleeps()
    refs = {"1": yt(VID), "2": yt("BBBBBBBBBBB"), "3": yt("CCCCCCCCCCC")}
    out = fetch_many(refs, replace(SCALE_CFG, download_pause=12.0), tmp_path, progress=False, sleep=sleeps)
    assert [r.status for r in out.values()] == ["ok"] * 3
    assert len(sleeps) == 2 and all(11.0 < s <= 12.0 for s in sleeps)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {m["node"] for m in manifest.values()} == {socket.gethostname()}
    assert all(r.node == socket.gethostname() for r in out.values())
