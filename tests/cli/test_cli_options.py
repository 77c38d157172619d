"""One set of options: the shared flags mean the same on every command, --version, model overrides."""

from dataclasses import dataclass

import pytest
import typer.main
from typer.testing import CliRunner

from reelcast import __version__
from reelcast.cli import app
from reelcast.cli.options import SHARED_OPTIONS, model_overrides, option, option_groups

# The flags every command that runs a model takes.
MODEL_FLAGS = {"--config", "--set", "--cache-dir", "--device", "--quiet", "--verbose"}


def commands():
    return typer.main.get_command(app).commands


def test_shared_options_mean_the_same_everywhere():
    for name, cmd in commands().items():
        for param in cmd.params:
            shared = next((SHARED_OPTIONS[o] for o in param.opts if o in SHARED_OPTIONS), None)
            if shared is None:
                continue
            assert param.help == shared.help, f"{name} {param.opts}: help differs from the shared option"
            assert sorted(param.opts) == sorted(o for o in (shared.param_decls or ()) if o.startswith("-")), (
                name
            )


def test_model_commands_take_every_shared_flag():
    for name in ("train", "evaluate", "predict", "extract", "demo", "serve"):
        opts = {o for p in commands()[name].params for o in p.opts}
        assert opts >= MODEL_FLAGS, f"{name} lacks {sorted(MODEL_FLAGS - opts)}"
        assert {"-q", "-v"} <= opts, name
    # Any other command with --device is a model command too.
    for name, cmd in commands().items():
        opts = {o for p in cmd.params for o in p.opts}
        if "--device" in opts:
            assert opts >= MODEL_FLAGS, f"{name} lacks {sorted(MODEL_FLAGS - opts)}"


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"reelcast {__version__}"


def test_model_overrides_keep_only_what_was_given(tmp_path):
    toml = tmp_path / "o.toml"
    toml.write_text("[eval]\nbootstrap = 30\n")
    got = model_overrides(toml, ["train.lr=0.5"], {"cache_dir": "/c", "train.device": None})
    assert got == {"eval": {"bootstrap": 30}, "train": {"lr": 0.5}, "cache_dir": "/c"}
    assert model_overrides(None, None, {"cache_dir": None}) is None


def test_errors_are_one_line_and_exit_nonzero(tmp_path):
    runner = CliRunner()
    for args in (
        ["evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "x.csv")],
        ["report", str(tmp_path)],
        ["config", "--set", "nope.key=1"],
        ["predict", "--model", str(tmp_path), "--description", "x", "--config", str(tmp_path / "none.toml")],
    ):
        r = runner.invoke(app, args)
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, r.output)


def run_main(monkeypatch, capsys, *args):
    """The console-script entry point, as a shell runs it: exit status and stderr."""
    import pytest

    from reelcast.cli import main

    monkeypatch.setattr("sys.argv", ["reelcast", *args])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr().err


def test_usage_errors_are_one_line_naming_the_fix(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "train", "--epochs", "abc", "--data", "x.csv")
    assert code == 2 and err.strip() == (
        "error: Invalid value for '--epochs': Input should be a valid integer, unable to parse string as an "
        "integer (see `reelcast train --help`)"
    )
    code, err = run_main(monkeypatch, capsys, "evaluate", "--data", "x.csv")
    assert code == 2 and err.strip() == "error: Missing option '--model'. (see `reelcast evaluate --help`)"
    code, err = run_main(monkeypatch, capsys, "config", "--set", "train.nope=1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "train.nope" in err
    code, _ = run_main(monkeypatch, capsys, "--version")
    assert code == 0


@dataclass
class Pair:
    size: int = option(1, "--size", help="How big.")
    loud: bool = option(False, "--loud")


def test_option_group_flags_sit_in_place_and_arrive_as_one_object():
    seen = []

    @option_groups
    def cmd(name: str = typer.Option("x", "--name"), *, pair: Pair, last: str = typer.Option("z", "--last")):
        seen.append((name, pair, last))

    one = typer.Typer(add_completion=False)
    one.command()(cmd)
    r = CliRunner().invoke(one, ["--size", "5", "--loud", "--last", "end"])
    assert r.exit_code == 0, r.output
    assert seen == [("x", Pair(size=5, loud=True), "end")]
    params = typer.main.get_command(one).params
    assert [p.opts[0] for p in params] == ["--name", "--size", "--loud", "--last"]
    assert params[1].help == "How big."
    assert Pair() == Pair(size=1, loud=False)  # usable without typer too

    def clash(size: int = typer.Option(0, "--other-size"), *, pair: Pair):
        """Two flags named size."""

    with pytest.raises(TypeError, match="share a flag name"):
        option_groups(clash)
