"""examples/quickstart.py: a prompt becomes PNG files through a Pipecat pipeline."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from imagegen_core.cli import main as cli_main
from imagegen_replicate import BASE_URL_ENV_VAR, TOKEN_ENV_VAR
from imagegen_testing.emulator import ReplicateEmulator

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart.py"


def load_quickstart(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart_example", QUICKSTART)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The script reconfigures loguru for the whole process; not inside pytest.
    monkeypatch.setattr(module, "quiet_logs", lambda: None)
    return module


def test_prompt_becomes_png_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quickstart = load_quickstart(monkeypatch)
    argv = ["two red foxes", "--out", str(tmp_path), "-n", "2", "--aspect-ratio", "16:9"]
    status = quickstart.main(argv)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    printed = [Path(line) for line in captured.out.splitlines()]
    assert sorted(printed) == sorted(tmp_path.iterdir())
    assert len(printed) == 2
    for path in printed:
        assert path.name.startswith("two-red-foxes")
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (1344, 768))
    assert "bundled emulator" in captured.err


def test_quickstart_and_cli_number_files_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One numbering (imagegen_core.cli.write_image): a folder filled by the
    # command and then by the quick start reads two-red-foxes-1, -2, -3.
    quickstart = load_quickstart(monkeypatch)
    assert cli_main(["generate", "two red foxes", "-b", "fake", "--out", str(tmp_path)]) == 0
    assert quickstart.main(["two red foxes", "--out", str(tmp_path), "-n", "2"]) == 0
    captured = capsys.readouterr()
    assert [Path(line).name for line in captured.out.splitlines()] == [
        "two-red-foxes-1.png",
        "two-red-foxes-2.png",
        "two-red-foxes-3.png",
    ]


def test_errors_exit_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quickstart = load_quickstart(monkeypatch)
    status = quickstart.main(["a fox", "--out", str(tmp_path), "--aspect-ratio", "7:5"])
    captured = capsys.readouterr()
    assert status == 1
    assert "aspect_ratio '7:5' is not offered" in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


async def test_with_a_token_it_calls_the_api_the_environment_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live path, pointed at an emulator through the variables a real
    # deployment would set: no in-process emulator is started.
    quickstart = load_quickstart(monkeypatch)
    async with ReplicateEmulator() as emulator:
        monkeypatch.setenv(TOKEN_ENV_VAR, emulator.api_token)
        monkeypatch.setenv(BASE_URL_ENV_VAR, emulator.base_url)
        status = await quickstart.generate("a fox", out=tmp_path, count=1, aspect_ratio="1:1")
        assert emulator.counters.predictions_created == 1
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"Calling the Replicate API ({TOKEN_ENV_VAR} is set)" in captured.err
    assert "bundled emulator" not in captured.err
    [path] = [Path(line) for line in captured.out.splitlines()]
    assert path.parent == tmp_path


async def test_a_rejected_token_exits_non_zero_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quickstart = load_quickstart(monkeypatch)
    token = "r8_QuickstartWrongToken000000000000"
    async with ReplicateEmulator() as emulator:
        monkeypatch.setenv(TOKEN_ENV_VAR, token)
        monkeypatch.setenv(BASE_URL_ENV_VAR, emulator.base_url)
        status = await quickstart.generate("a fox", out=tmp_path, count=1, aspect_ratio="1:1")
    captured = capsys.readouterr()
    assert status == 1
    [reported] = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert "authentication" in reported
    assert token not in captured.err + captured.out
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's own tmp dir, after the run
