"""The ``imagegen`` command, run in-process (and once as ``python -m imagegen_core``)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagegen_core import Capabilities, ImageRole, OutputFormat
from imagegen_core.cli import main
from imagegen_core.cli._files import extension_for, prompt_stem, write_image
from imagegen_core.cli._main import describe_capabilities

WRONG_KEY = "sk-wrong-but-secret-123456"
PNG_BYTES = Image.new("RGB", (8, 4), "teal")


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def paths(self) -> list[Path]:
        return [Path(line) for line in self.out.splitlines()]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The output folder (tmp_path also holds the throwaway plugins' site folder)."""
    return tmp_path / "out"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


def one_line_error(result: Run) -> str:
    assert result.code == 1
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("imagegen: error: ")
    assert "Traceback" not in result.err
    return lines[0]


# -- imagegen backends --------------------------------------------------------------


def test_backends_table_lists_capabilities_and_errors(plugins: Any, run: Any, only: Any) -> None:
    plugins.install("good", version="1.2")
    plugins.install("broken", "raise ImportError('needs libfoo')")
    only("good", "broken", "fake")

    result = run("backends")

    assert result.code == 0
    assert result.err == ""  # load errors are in the table, not logged twice
    lines = result.out.splitlines()
    assert lines[0].split() == ["broken", "imagegen-test-broken", "1.0", "[not", "loaded]"]
    assert "error: importing" in lines[2]
    assert "needs libfoo" in lines[2]
    assert lines[3].split() == ["good", "imagegen-test-good", "1.2"]
    assert lines[4].strip() == (
        "up to 2 image(s) per call; any aspect ratio; seed; format chosen by backend"
    )
    # Test doubles come last, marked, since nothing selects them unless named.
    assert lines[5].split()[:3] == ["fake", "imagegen-testing", "0.1.0"]
    assert lines[5].endswith("[test double: used only when named]")
    assert "up to 4 image(s) per call" in lines[6]


def test_backends_json(plugins: Any, run: Any, only: Any) -> None:
    plugins.install("broken", "raise ImportError('needs libfoo')")
    only("broken", "fake")

    result = run("backends", "--json")

    assert result.code == 0
    broken, fake = json.loads(result.out)
    assert broken["loaded"] is False
    assert broken["class"] is None
    assert broken["capabilities"] is None
    assert "needs libfoo" in broken["error"]
    assert fake["class"] == "imagegen_testing.fake.backend.FakeBackend"
    assert fake["error"] is None
    assert fake["capabilities"]["output_formats"] == ["jpeg", "png", "webp"]
    assert fake["capabilities"]["max_images_per_call"] == 4


def test_backends_strict_fails_on_a_broken_plugin(plugins: Any, run: Any, only: Any) -> None:
    plugins.install("broken", "raise ImportError('needs libfoo')")
    only("broken", "fake")

    line = one_line_error(run("backends", "--strict"))

    assert "strict mode" in line
    assert "broken: importing" in line


def test_backends_when_none_are_installed(run: Any, only: Any) -> None:
    only()

    result = run("backends")

    assert result.code == 0
    assert result.out == ""
    assert "no imagegen backends" in result.err


def test_describe_capabilities_of_a_minimal_backend() -> None:
    restricted = Capabilities(
        aspect_ratios=frozenset({"16:9", "1:1", "9:16"}),
        output_formats=frozenset({OutputFormat.WEBP}),
    )

    assert describe_capabilities(restricted) == (
        "up to 1 image(s) per call; aspect ratios 9:16 1:1 16:9; formats webp"
    )
    assert describe_capabilities(Capabilities(aspect_ratios=frozenset())) == (
        "up to 1 image(s) per call; no aspect ratio setting; format chosen by backend"
    )


def test_describe_capabilities_names_input_images_and_mask() -> None:
    editor = Capabilities(aspect_ratios=frozenset(), max_input_images=2, supports_mask=True)
    referencer = Capabilities(
        aspect_ratios=frozenset(),
        max_input_images=4,
        input_roles=frozenset({ImageRole.EDIT, ImageRole.REFERENCE}),
    )

    assert describe_capabilities(editor) == (
        "up to 1 image(s) per call; no aspect ratio setting; "
        "up to 2 input image(s) (edit) and a mask; format chosen by backend"
    )
    assert "up to 4 input image(s) (edit, reference);" in describe_capabilities(referencer)


# -- imagegen schema ------------------------------------------------------------------


def test_schema_prints_the_settings_json_schema(run: Any) -> None:
    result = run("schema", "fake")

    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["title"] == "FakeSettings"
    assert {"api_key", "latency", "pixels"} <= set(schema["properties"])
    assert schema["properties"]["api_key"]["format"] == "password"


def test_schema_follows_the_order_of_choice(
    plugins: Any, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.install("good")
    monkeypatch.setenv("IMAGEGEN_BACKEND", "good")

    result = run("schema")

    assert result.code == 0
    assert set(json.loads(result.out)["properties"]) == {
        "colour",
        "tags",
        "url",
        "count",
        "allow_private_urls",
    }


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["schema"], "`imagegen schema one`"),
        (["generate", "a fox"], '`imagegen generate "PROMPT" --backend one`'),
    ],
)
def test_several_backends_and_no_name_shows_this_commands_usage(
    plugins: Any, run: Any, only: Any, out: Path, argv: list[str], usage: str
) -> None:
    plugins.install("one")
    plugins.install("two")
    only("one", "two")

    line = one_line_error(run(*argv, *(["--out", str(out)] if argv[0] == "generate" else [])))

    assert "several imagegen backends are installed (one, two)" in line
    assert line.endswith(f"here: {usage}")
    other = "generate" if argv[0] == "schema" else "schema"
    assert other not in line.replace(usage, ""), "the hint names another command"


def test_schema_of_an_unknown_backend(run: Any) -> None:
    line = one_line_error(run("schema", "nope"))

    assert "no imagegen backend named 'nope'" in line


# -- imagegen generate -------------------------------------------------------------------


def test_generate_writes_each_image_and_prints_its_path(run: Any, tmp_path: Path) -> None:
    result = run(
        "generate",
        "A lighthouse at dawn!",
        "--backend",
        "fake",
        "-n",
        "3",
        "--size",
        "48x32",
        "--format",
        "jpg",
        "--quality",
        "70",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "new" / "folder"),
    )

    assert result.code == 0, result.err
    assert result.err == ""
    assert [p.name for p in result.paths] == [
        "a-lighthouse-at-dawn-1.jpg",
        "a-lighthouse-at-dawn-2.jpg",
        "a-lighthouse-at-dawn-3.jpg",
    ]
    for path in result.paths:
        with Image.open(path) as picture:
            assert picture.format == "JPEG"
            assert picture.size == (48, 32)


def test_generate_never_overwrites(run: Any, out: Path) -> None:
    args = ("generate", "fox", "-b", "fake", "--out", str(out))

    first = run(*args)
    second = run(*args)

    assert [p.name for p in first.paths] == ["fox-1.png"]
    assert [p.name for p in second.paths] == ["fox-2.png"]
    assert first.paths[0].read_bytes() == second.paths[0].read_bytes()


def test_generate_uses_the_only_installed_backend_and_settings(
    plugins: Any, run: Any, only: Any, out: Path
) -> None:
    plugins.install("good")
    only("good")

    result = run(
        "generate",
        "p",
        "--set",
        "colour=green",
        "--set",
        'tags=["a", "b"]',
        "--option",
        "steps=4",
        "--option",
        "fast=true",
        "--option",
        "label=plain text",
        "--option",
        'nested={"k": [1, null]}',
        "--out",
        str(out),
    )

    assert result.code == 0, result.err
    (path,) = result.paths
    assert path.suffix == ".png"
    with Image.open(path) as image:
        echo = image.text["echo"]  # type: ignore[attr-defined]
    assert json.loads(echo) == {
        "colour": "green",
        "tags": ["a", "b"],
        "options": {"steps": 4, "fast": True, "label": "plain text", "nested": {"k": [1, None]}},
    }


def test_generate_prints_each_warning_once_on_stderr(plugins: Any, run: Any, out: Path) -> None:
    plugins.install("good")

    result = run("generate", "p", "-b", "good", "--negative-prompt", "blur", "-o", str(out))

    assert result.code == 0
    assert result.err.splitlines() == [
        "imagegen: warning: unsupported-setting (negative_prompt): "
        "negative prompts are not supported; ignored"
    ]
    assert len(result.paths) == 1


def test_generate_prints_backend_warnings(run: Any, out: Path) -> None:
    result = run("generate", "p", "-b", "fake", "-n", "2", "--set", "drop_images=1", "-o", str(out))

    assert result.code == 0
    assert result.err.splitlines() == ["imagegen: warning: other: 1 of 2 images dropped"]
    assert len(result.paths) == 1


def test_generate_strict_refuses_unsupported_settings(plugins: Any, run: Any, out: Path) -> None:
    plugins.install("good")

    line = one_line_error(
        run("generate", "p", "-b", "good", "--quality", "5", "--strict", "-o", str(out))
    )

    assert "strict mode" in line
    assert "quality" in line
    assert list(out.glob("*")) == []


def test_generate_error_is_one_line_without_secrets(run: Any, out: Path) -> None:
    result = run("generate", "p", "-b", "fake", "--set", f"api_key={WRONG_KEY}", "-o", str(out))

    line = one_line_error(result)

    assert line == "imagegen: error: [fake] authentication: the API key was rejected"
    assert WRONG_KEY not in result.err


def test_generate_failure_midway_keeps_written_images(run: Any, out: Path) -> None:
    result = run(
        "generate",
        "p",
        "-b",
        "fake",
        "-n",
        "3",
        "--set",
        "fail_with=server",
        "--set",
        "fail_after_images=1",
        "-o",
        str(out),
    )

    assert result.code == 1
    assert [p.name for p in result.paths] == ["p-1.png"]
    assert result.err.strip() == "imagegen: error: [fake] server: scripted server failure"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "big"], "size: size 'big' is not of the form WIDTHxHEIGHT"),
        (["--aspect-ratio", "16/9"], "aspect_ratio: aspect ratio '16/9' is not of the form W:H"),
        (["--format", "gif"], "unknown output format 'gif'"),
        (["-n", "0"], "num_images: Input should be greater than or equal to 1"),
        (
            ["--aspect-ratio", "1:1", "--size", "64x64"],
            "invalid_request: request: give aspect_ratio or size, not both",
        ),
        (["--set", "pixels=lots"], "invalid settings for backend 'fake': pixels"),
        (["--set", "colour=red"], "colour: Extra inputs are not permitted"),
        (["--set", 'latency={"a": 1}'], "invalid settings for backend 'fake': latency"),
        (["--set", "max_images_per_call=[4]"], "max_images_per_call: Input should be a valid"),
        (["--backend", "nope"], "no imagegen backend named 'nope'"),
        (["-n", "9"], "at most 4"),
    ],
)
def test_generate_rejects_bad_input(run: Any, out: Path, extra: list[str], message: str) -> None:
    args = ["generate", "p", "--backend", "fake", "-o", str(out), *extra]

    line = one_line_error(run(*args))

    assert message in line
    assert list(out.glob("*")) == []


def test_generate_blank_prompt(run: Any) -> None:
    line = one_line_error(run("generate", "  ", "-b", "fake"))

    assert line == (
        "imagegen: error: invalid_request: prompt: prompt must contain text, not only whitespace"
    )


def test_generate_when_the_backend_returns_nothing(plugins: Any, run: Any, out: Path) -> None:
    plugins.install("good")

    line = one_line_error(run("generate", "p", "-b", "good", "--set", "count=0", "-o", str(out)))

    assert line == "imagegen: error: the backend returned no images"


def test_generate_reports_an_unwritable_folder(run: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    line = one_line_error(run("generate", "p", "-b", "fake", "-o", str(blocker / "sub")))

    assert line.startswith("imagegen: error: cannot write")


@pytest.mark.parametrize("bad", [["--set", "novalue"], ["--option", "=3"], ["-n", "two"]])
def test_malformed_arguments_are_usage_errors(run: Any, bad: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run("generate", "p", "-b", "fake", *bad)

    assert caught.value.code == 2


def test_main_leaves_logging_as_it_found_it(run: Any, out: Path) -> None:
    logger = logging.getLogger("imagegen")
    before = (list(logger.handlers), logger.level, logger.propagate)

    run("generate", "p", "-b", "fake", "-o", str(out))

    assert (list(logger.handlers), logger.level, logger.propagate) == before


# -- URL outputs -------------------------------------------------------------------------


class _ImageServer(BaseHTTPRequestHandler):
    png = b""

    def do_GET(self) -> None:
        if self.path.startswith("/to-"):  # /to-file, /to-ftp: a redirect to another scheme
            self.send_response(302)
            self.send_header("Location", f"{self.path[4:]}:///etc/passwd")
            self.end_headers()
            return
        body = self.png if self.path == "/img.png" else b"x" * 5000
        self.send_response(200 if self.path != "/gone.png" else 404)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    """A loopback HTTP server serving one PNG at /img.png and 5000 bytes elsewhere."""
    buffer = io.BytesIO()
    PNG_BYTES.save(buffer, "PNG")
    _ImageServer.png = buffer.getvalue()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def generate_from(run: Any, out: Path, url: str, *extra: str, private: bool = True) -> Run:
    """Run ``generate`` with the throwaway backend that answers with ``url``.

    The image server is on loopback, which links from a provider may reach
    only when allowed (``private``).
    """
    allow = ["--set", "allow_private_urls=true"] if private else []
    args = ["generate", "p", "-b", "good", "--set", f"url={url}", *allow, "-o", str(out)]
    result: Run = run(*args, *extra)
    return result


def test_generate_refuses_links_to_private_addresses_unless_allowed(
    plugins: Any, run: Any, out: Path, image_server: str
) -> None:
    plugins.install("good")

    result = generate_from(run, out, f"{image_server}/img.png", private=False)

    line = one_line_error(result)
    assert "server: refused to download http://127.0.0.1:" in line
    assert "its host is a loopback address (127.0.0.1)" in line
    assert "allow_private_urls" in line
    assert list(out.glob("*")) == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-file", "it redirected to a 'file' URL; only http and https URLs are fetched"),
        ("/to-ftp", "it redirected to a 'ftp' URL; only http and https URLs are fetched"),
    ],
)
def test_generate_reports_a_redirect_to_another_scheme_as_an_unusable_link(
    plugins: Any, run: Any, out: Path, image_server: str, path: str, message: str
) -> None:
    plugins.install("good")

    line = one_line_error(generate_from(run, out, f"{image_server}{path}"))

    assert line.startswith("imagegen: error: server: downloading")
    assert message in line


def test_generate_reports_a_file_link_as_an_unusable_link(
    plugins: Any, run: Any, out: Path
) -> None:
    plugins.install("good")

    line = one_line_error(generate_from(run, out, "file:///etc/passwd"))

    assert line == (
        "imagegen: error: server: cannot download the image: its link is a 'file' URL; "
        "only http and https URLs are fetched"
    )


def test_generate_caps_inline_images_like_downloads(run: Any, out: Path) -> None:
    # The fake backend sends its images inline; a 64x64 PNG is more than 100 bytes.
    result = run("generate", "p", "-b", "fake", "-o", str(out), "--max-bytes", "100")

    assert "image 0 (sent inline) is larger than the download limit of 100 bytes" in (
        one_line_error(result)
    )
    assert list(out.glob("*")) == []


def test_generate_downloads_url_outputs(
    plugins: Any, run: Any, out: Path, image_server: str
) -> None:
    plugins.install("good")

    result = generate_from(run, out, f"{image_server}/img.png", "-n", "2")

    assert result.code == 0, result.err
    assert [p.name for p in result.paths] == ["p-1.png", "p-2.png"]
    with Image.open(result.paths[0]) as picture:
        assert picture.size == (8, 4)


def test_generate_caps_download_size(plugins: Any, run: Any, out: Path, image_server: str) -> None:
    plugins.install("good")

    result = generate_from(run, out, f"{image_server}/big.png", "--max-bytes", "1000")

    assert "larger than the download limit of 1,000 bytes" in one_line_error(result)
    assert list(out.glob("*")) == []


def test_generate_rejects_a_non_positive_download_cap(plugins: Any, run: Any, out: Path) -> None:
    plugins.install("good")

    result = generate_from(run, out, "http://127.0.0.1:9/x.png", "--max-bytes", "0")

    assert one_line_error(result) == "imagegen: error: --max-bytes must be positive"


def test_generate_reports_a_failed_download(
    plugins: Any, run: Any, out: Path, image_server: str
) -> None:
    plugins.install("good")

    result = generate_from(run, out, f"{image_server}/gone.png")

    assert "HTTP 404" in one_line_error(result)


# -- file naming ---------------------------------------------------------------------------


def test_prompt_stem() -> None:
    assert prompt_stem("A Cat, in SPACE!") == "a-cat-in-space"
    assert prompt_stem("日本") == "image"
    assert len(prompt_stem("word " * 40)) <= 48
    assert not prompt_stem("word " * 40).endswith("-")


@pytest.mark.parametrize(
    ("data", "media_type", "extension"),
    [
        (b"\x89PNG\r\n\x1a\nrest", None, ".png"),
        (b"\xff\xd8\xff\xe0", "image/png", ".jpg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8", None, ".webp"),
        (b"GIF89a", None, ".gif"),
        (b"????", "image/webp; charset=binary", ".webp"),
        (b"????", "application/octet-stream", ".bin"),
        (b"", None, ".bin"),
    ],
)
def test_extension_for(data: bytes, media_type: str | None, extension: str) -> None:
    assert extension_for(data, media_type) == extension


def test_write_image_numbers_from_one(tmp_path: Path) -> None:
    names = [write_image(tmp_path, "x", b"new", None).name for _ in range(3)]

    assert names == ["x-1.bin", "x-2.bin", "x-3.bin"]


def test_write_image_continues_after_the_highest_number_of_any_extension(tmp_path: Path) -> None:
    (tmp_path / "x-1.png").write_bytes(b"old")
    (tmp_path / "x-7.jpg").write_bytes(b"old")
    (tmp_path / "x-y-9.png").write_bytes(b"another stem")
    (tmp_path / "x.bin").write_bytes(b"not numbered")

    path = write_image(tmp_path, "x", b"new", None)

    assert path.name == "x-8.bin"
    assert (tmp_path / "x-7.jpg").read_bytes() == b"old"


def test_write_image_skips_a_name_taken_after_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x-1.bin").write_bytes(b"taken meanwhile")
    monkeypatch.setattr("imagegen_core.cli._files._highest_number", lambda folder, stem: 0)

    path = write_image(tmp_path, "x", b"new", None)

    assert path.name == "x-2.bin"
    assert (tmp_path / "x-1.bin").read_bytes() == b"taken meanwhile"


# -- python -m ---------------------------------------------------------------------------


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "imagegen_core", "generate", "p", "-b", "fake", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(tmp_path / "p-1.png")


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_generate_draws_progress_on_a_terminal_and_saves_no_preview(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], out: Path
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    # The plain line: as if the extra were not installed (submodules too, in
    # case an earlier test imported them).
    for module in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, module, None)
    settings = ["--set", "progress_steps=2", "--set", "progress_previews=true"]
    code = main(["generate", "x", "--backend", "fake", "-n", "2", *settings, "--out", str(out)])
    assert code == 0
    drawn = terminal.getvalue()
    assert "\r" in drawn
    assert drawn.count("imagegen: ") >= 4, drawn
    assert drawn.endswith("\r"), "the progress line is wiped before the command ends"
    assert len(list(out.iterdir())) == 2, "previews are never written as results"
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_generate_draws_no_progress_when_stderr_is_not_a_terminal(run: Any, out: Path) -> None:
    result = run(
        "generate", "x", "--backend", "fake", "--set", "progress_steps=3", "--out", str(out)
    )
    assert result.code == 0
    assert result.err == ""


def test_generate_saves_only_what_decodes_as_an_image(
    plugins: Any, run: Any, out: Path, image_server: str
) -> None:
    # The server answers anything but /img.png with 5000 bytes of "x": a
    # provider's link to something that is no image must not become a file.
    plugins.install("good")

    line = one_line_error(generate_from(run, out, f"{image_server}/not-an-image"))

    assert line.startswith("imagegen: error: server: ")
    assert "not an image format" in line
    assert list(out.glob("*")) == []
