"""The command: loopback by default, prints URL and token, serves, stops on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from imagegen_testing.emulator import EMULATOR_API_TOKEN
from imagegen_testing.emulator.__main__ import build_parser, host_warning, main


def start(*args: str, command: list[str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the command and read its banner up to the last line it prints when ready."""
    argv = command or [sys.executable, "-m", "imagegen_testing.emulator"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*argv, "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    return process, banner


def value(banner: list[str], label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in banner if line.strip().startswith(label))


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    return process.returncode, out, err


def test_it_serves_on_loopback_prints_url_and_token_and_stops_on_ctrl_c():
    process, banner = start("--seed", "1")
    try:
        base_url = value(banner, "base URL")
        token = value(banner, "token")
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")
        assert token == EMULATOR_API_TOKEN

        request = urllib.request.Request(  # noqa: S310 - loopback URL we just printed
            f"{base_url}/models/black-forest-labs/flux-schnell/predictions",
            data=json.dumps({"input": {"prompt": "x", "megapixels": "0.25"}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
            assert reply.status == 201
            assert json.load(reply)["status"] in {"starting", "processing", "succeeded"}
    finally:
        code, out, err = interrupt(process)
    assert code == 0, err
    assert "Emulator stopped." in out
    assert "Traceback" not in err


def test_a_custom_token_is_not_printed():
    process, banner = start("--token", "r8_my_private_choice_123")
    try:
        assert value(banner, "token") == "(the value given with --token)"
    finally:
        code, out, err = interrupt(process)
    assert "r8_my_private_choice_123" not in out + err + "\n".join(banner)
    assert code == 0


def test_installed_as_a_console_script_that_sigterm_stops():
    script = Path(sys.executable).with_name("imagegen-replicate-emulator")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    process, banner = start(command=[str(script)])
    assert value(banner, "base URL").startswith("http://127.0.0.1:")

    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "Emulator stopped." in out


def test_defaults_are_loopback_port_8787_and_the_fake_token():
    args = build_parser().parse_args([])

    assert (args.host, args.port, args.token) == ("127.0.0.1", 8787, EMULATOR_API_TOKEN)
    assert args.min_cancel_after == 5.0


def test_negative_latencies_are_rejected(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--predict-time", "-1"])
    assert "must not be negative" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_no_warning_for_loopback(host):
    assert host_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10"])  # noqa: S104
def test_a_warning_for_anything_else(host):
    warning = host_warning(host)

    assert warning is not None
    assert host in warning
    assert "not loopback" in warning


def test_a_busy_port_is_a_clear_error(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        code = main(["--port", str(port), "--quiet"])

    assert code == 1
    assert "cannot start the emulator" in capsys.readouterr().err


def test_help_lists_the_behaviour_flags():
    text = build_parser().format_help()

    for flag in ("--host", "--port", "--token", "--predict-time", "--download-time", "--data-urls"):
        assert flag in text
