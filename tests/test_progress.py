"""Progress stages: one summary line when stderr is not a terminal, a live bar when it is, none when off."""

import logging

from reelcast.progress import Progress, rate_text, track


def test_piped_stage_logs_one_line(monkeypatch, caplog, capsys):
    monkeypatch.setenv("REELCAST_PROGRESS", "lines")
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        with Progress(10, "encode text", "film") as p:
            for _ in range(10):
                p.update()
        assert list(track(range(3), "render", "film")) == [0, 1, 2]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("encode text: 10 film in ") and "film/s)" in lines[0]
    assert lines[1].startswith("render: 3 film in ")
    assert "\r" not in capsys.readouterr().err


def test_terminal_stage_draws_a_bar_and_ends_with_the_line(monkeypatch, caplog, capsys):
    monkeypatch.setenv("REELCAST_PROGRESS", "bar")
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        p = Progress(None, "ablation 70-20-10", "model")
        p.set_total(4)
        p.update(3)
        p.close("one skipped")
        p.close()  # a second close adds nothing
    assert "\r" in capsys.readouterr().err  # tqdm's live bar
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["ablation 70-20-10: 3/4 model"]
    assert caplog.records[0].getMessage().endswith("; one skipped")


def test_disabled_and_failed_stages_say_nothing(monkeypatch, caplog):
    monkeypatch.setenv("REELCAST_PROGRESS", "lines")
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        with Progress(5, "quiet", "film", enabled=False) as p:
            p.update(5)
        try:
            with Progress(5, "broken", "film") as p:
                raise ValueError("x")
        except ValueError:
            pass
    assert not caplog.records


def test_rate_text_reads_both_ways():
    assert rate_text(10, 2.0, "film") == "5.0 film/s"
    assert rate_text(2, 8.0, "epoch") == "4.0 s/epoch"
    assert rate_text(0, 1.0, "film") == "- film/s"


def test_a_long_stage_logs_a_line_at_least_every_heartbeat(monkeypatch, caplog):
    import reelcast.progress as progress

    monkeypatch.setenv("REELCAST_PROGRESS", "lines")
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.0)  # every update is "long ago" enough
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        with Progress(3, "trees gbm_classifier", "booster") as p:
            p.update()
            p.heartbeat("round 40")
        quiet = Progress(3, "quiet", "booster", enabled=False)
        quiet.update()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("trees gbm_classifier: 1/3 booster so far in ")
    assert lines[1].endswith("; round 40") and lines[-1].startswith("trees gbm_classifier: 1/3 booster in ")
    assert not any(ln.startswith("quiet") for ln in lines)


def test_a_silent_step_in_a_piped_log_is_said_to_be_still_working(monkeypatch, caplog):
    import time

    from reelcast.progress import watch_quiet

    monkeypatch.setenv("REELCAST_PROGRESS", "lines")
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        with watch_quiet(every=0.2), Progress(1, "fit the metadata encoder", "encoder") as p:
            time.sleep(0.7)  # one step with no update: only the watch speaks
            p.update()
        time.sleep(0.4)  # after the job nothing is watched any more
    lines = [r.getMessage() for r in caplog.records]
    still = [ln for ln in lines if ln.startswith("still working")]
    assert 2 <= len(still) <= 4 and "(last stage started: fit the metadata encoder)" in still[0]
    assert lines[-1].startswith("fit the metadata encoder: 1 encoder in ")
    with caplog.at_level(logging.INFO, logger="reelcast.progress"):
        caplog.clear()
        with watch_quiet(enabled=False, every=0.1):
            time.sleep(0.3)
    assert not caplog.records
