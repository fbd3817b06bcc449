"""phdl.cli: argument errors give one line and exit 2; `phdl grid` writes a readable grid."""

import os
import signal

import pytest
from _fakes import FakeSynthesizer

from phdl import cli
from phdl.grid import read_grid
from phdl.runner import ChapterError


@pytest.fixture
def fake(monkeypatch):
    syn = FakeSynthesizer()
    monkeypatch.setattr(cli, "_synthesizer", lambda: syn)
    return syn


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("phdl: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("n", ["0", "-5"])
def test_grid_nonpositive_n(tmp_path, capsys, fake, n):
    assert cli.main(["grid", "--n", n, "--out", str(tmp_path / "g.h5")]) == 2
    assert "--n" in _one_line_error(capsys)
    assert fake.calls == 0 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("out", ["/proc/nope/grid.h5", "FILE/grid.h5"])
def test_grid_unwritable_out(tmp_path, capsys, monkeypatch, out):
    (tmp_path / "FILE").write_text("not a directory")
    monkeypatch.chdir(tmp_path)
    built = []
    monkeypatch.setattr(cli, "_synthesizer", lambda: built.append(1) or FakeSynthesizer())
    assert cli.main(["grid", "--n", "3", "--out", out]) == 2
    assert "grid.h5" in _one_line_error(capsys)
    assert built == []  # failed before the engine was even built


def test_grid_happy_path(tmp_path, capsys, fake):
    out = tmp_path / "sub" / "g.h5"
    rc = cli.main(
        ["grid", "--n", "5", "--seed", "3", "--out", str(out), "--chunk-size", "2", "--quiet"]
    )
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    grid = read_grid(out)
    assert len(grid) == 5 and grid.attrs["seed"] == 3 and grid.gradients is not None
    assert fake.rows == [2, 2, 1]


def test_grid_no_gradients(tmp_path, fake):
    out = tmp_path / "g.h5"
    assert cli.main(["grid", "--n", "2", "--out", str(out), "--no-gradients", "--quiet"]) == 0
    assert read_grid(out).gradients is None


def test_grid_resume_mismatch_is_one_line(tmp_path, capsys, fake):
    out = tmp_path / "g.h5"
    assert cli.main(["grid", "--n", "2", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["grid", "--n", "2", "--seed", "2", "--out", str(out), "--quiet"]) == 2
    assert "seed" in _one_line_error(capsys)


def test_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_synthesizer", lambda: FakeSynthesizer(fail_on_call=1))
    assert cli.main(["grid", "--n", "2", "--out", str(tmp_path / "g.h5"), "--quiet"]) == 130
    assert "resume" in capsys.readouterr().err


class _TermOnSecondCall(FakeSynthesizer):
    """Sends this process SIGTERM during its second chunk, as a batch scheduler would."""

    def __call__(self, labels, with_gradients: bool = False):
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().__call__(labels, with_gradients)


def test_sigterm_saves_and_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "g.h5"
    args = ["grid", "--n", "4", "--out", str(out), "--chunk-size", "2", "--quiet"]
    monkeypatch.setattr(cli, "_synthesizer", lambda: _TermOnSecondCall())
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(args) == 143
    assert "terminated" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # restored after the run
    syn = FakeSynthesizer()
    monkeypatch.setattr(cli, "_synthesizer", lambda: syn)
    assert cli.main(args) == 0
    assert syn.rows == [2]  # the first chunk was kept; only the second is synthesized again
    assert read_grid(out).flux.shape[0] == 4


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["grid", "--n", "many", "--out", "x.h5"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2


def test_book_calls_runner(monkeypatch, capsys, tmp_path):
    import sys
    import types

    calls = []
    runner = types.ModuleType("phdl.runner")
    runner.ChapterError = ChapterError
    runner.build_book = lambda profile="quick", root=None, force=False: (
        calls.append((profile, force)) or tmp_path
    )
    monkeypatch.setitem(sys.modules, "phdl.runner", runner)
    assert cli.main(["book", "--profile", "tiny"]) == 0
    assert calls == [("tiny", False)] and capsys.readouterr().out.strip() == str(tmp_path)
    assert cli.main(["book", "--profile", "tiny", "--force"]) == 0
    assert calls[-1] == ("tiny", True)


def test_book_failure_exits_1_naming_the_chapter(monkeypatch, capsys):
    import sys
    import types

    def fail(profile="quick", root=None, force=False):
        raise ChapterError("01_ab_initio_grid", "cell [3]: ValueError: boom")

    runner = types.ModuleType("phdl.runner")
    runner.ChapterError = ChapterError
    runner.build_book = fail
    monkeypatch.setitem(sys.modules, "phdl.runner", runner)
    assert cli.main(["book", "--profile", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "01_ab_initio_grid" in err and "ValueError: boom" in err


def test_commands_registered():
    parser = cli.build_parser()
    assert {"grid", "book"} <= set(cli.COMMANDS)
    assert parser.parse_args(["grid", "--n", "1", "--out", "x.h5"]).handler is cli._grid


def test_help_names_only_the_commands_that_exist():
    text = cli.build_parser().format_help() + (cli.__doc__ or "")
    assert set(cli.COMMANDS) == {"grid", "train", "fit", "catalog", "sky", "book"}
    for name in cli.COMMANDS:
        assert name in text
    assert "{grid,train,fit,catalog,sky,book}" in text.replace(" ", "") or "sky" in text
    assert "calibrate " not in text  # calibration is a library and a catalog option
