"""The scrubber: what reaches a cassette, request by request and response by response."""

import base64
import copy
import gzip
import io
import json

import pytest
from PIL import Image
from vcr.request import Request

from imagegen_testing.vcr import REDACTED, CassetteScrubber, merged_vcr_config, shared_vcr_config

SECRET = "hunter2-very-secret"
EMULATOR = "http://127.0.0.1:53211"


def _scrubber() -> CassetteScrubber:
    scrubber = CassetteScrubber(secrets=[SECRET])
    scrubber.map_url(f"{EMULATOR}/v1", "https://api.example.test/v1")
    scrubber.map_url(f"{EMULATOR}/files/", "https://files.example.test/")
    return scrubber


def _response(body: bytes | str, **headers: str) -> dict[str, object]:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {name.replace("_", "-"): [value] for name, value in headers.items()},
        "body": {"string": body},
    }


def test_request_credentials_are_dropped_and_urls_rewritten() -> None:
    request = Request(
        "POST",
        f"{EMULATOR}/v1/jobs?api_key={SECRET}&page=2",
        json.dumps({"prompt": "cat", "api_token": "abc12345", "note": f"uses {SECRET}"}),
        {"Authorization": f"Bearer {SECRET}", "X-Api-Key": "k", "Content-Type": "application/json"},
    )
    scrubbed = _scrubber().before_record_request(request)
    assert scrubbed.uri == f"https://api.example.test/v1/jobs?api_key={REDACTED}&page=2"
    assert set(scrubbed.headers) == {"Content-Type"}
    body = json.loads(scrubbed.body)
    assert body == {"prompt": "cat", "api_token": REDACTED, "note": f"uses {REDACTED}"}


def test_form_bodies_lose_credential_fields_in_requests_and_responses() -> None:
    # e.g. an OAuth client-credentials exchange: neither value is a known secret
    # nor shaped like a token; only the field names say they are credentials.
    form = "application/x-www-form-urlencoded"
    request = Request(
        "POST",
        "https://auth.example.test/token",
        "grant_type=client_credentials&client_secret=s3cr3t-value&scope=images",
        {"Content-Type": form},
    )
    body = _scrubber().before_record_request(request).body
    assert body == f"grant_type=client_credentials&client_secret={REDACTED}&scope=images".encode()
    response = _scrubber().before_record_response(
        _response("access_token=gho_abcdef123456&expires_in=3600", Content_Type=form)
    )
    assert response["body"]["string"] == f"access_token={REDACTED}&expires_in=3600".encode()


def test_json_request_objects_are_stored_as_the_json_sent() -> None:
    # aiohttp's json= argument reaches vcrpy as a dict (a stub quirk).
    request = Request("POST", "https://x.test/", {"prompt": "cat", "n": 2}, {})
    assert _scrubber().before_record_request(request).body == b'{"prompt": "cat", "n": 2}'


def test_response_json_is_scrubbed_rewritten_and_its_data_urls_shrunk() -> None:
    image = Image.effect_noise((128, 128), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = json.dumps(
        {
            "id": "p1",
            "urls": {"get": f"{EMULATOR}/v1/predictions/p1"},
            "output": [f"{EMULATOR}/files/p1/out-0.png", data_url],
            "logs": f"token {SECRET}",
        }
    )
    response = _response(
        body,
        Content_Type="application/json",
        Location=f"{EMULATOR}/v1/predictions/p1",
        Set_Cookie="session=abc",
        Content_Length=str(len(body)),
    )
    original = copy.deepcopy(response)
    scrubbed = _scrubber().before_record_response(response)
    assert response == original, "the live response must not be modified"
    document = json.loads(scrubbed["body"]["string"])
    assert document["urls"]["get"] == "https://api.example.test/v1/predictions/p1"
    assert document["output"][0] == "https://files.example.test/p1/out-0.png"
    assert len(document["output"][1]) < len(data_url) / 10
    assert SECRET not in document["logs"]
    headers = scrubbed["headers"]
    assert "Set-Cookie" not in headers
    assert headers["Location"] == ["https://api.example.test/v1/predictions/p1"]
    assert headers["Content-Length"] == [str(len(scrubbed["body"]["string"]))]


def _big_png() -> bytes:
    image = Image.effect_noise((256, 256), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_b64_json_images_and_event_streams_are_shrunk_and_scrubbed() -> None:
    big = base64.b64encode(_big_png()).decode("ascii")
    body = json.dumps({"data": [{"b64_json": big}], "note": SECRET})
    scrubbed = _scrubber().before_record_response(_response(body, content_type="application/json"))
    document = json.loads(scrubbed["body"]["string"])
    shrunk = base64.b64decode(document["data"][0]["b64_json"])
    assert len(shrunk) < len(big) / 10
    with Image.open(io.BytesIO(shrunk)) as image:
        assert image.size == (256, 256)
    assert document["note"] == REDACTED

    event = json.dumps({"type": "image_generation.completed", "b64_json": big, "k": SECRET})
    stream = f"event: image_generation.completed\ndata: {event}\n\n"
    scrubbed = _scrubber().before_record_response(
        _response(stream, content_type="text/event-stream")
    )
    text = scrubbed["body"]["string"].decode()
    assert text.startswith("event: image_generation.completed\ndata: {")
    assert text.endswith("\n\n")
    payload = json.loads(text.split("\n")[1].removeprefix("data: "))
    assert len(payload["b64_json"]) < len(big) / 10
    assert payload["k"] == REDACTED


def test_image_bodies_shrink_and_binary_bodies_lose_exact_secrets() -> None:
    image = Image.effect_noise((200, 100), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    scrubbed = _scrubber().before_record_response(
        _response(buffer.getvalue(), Content_Type="image/jpeg")
    )
    with Image.open(io.BytesIO(scrubbed["body"]["string"])) as shrunk:
        assert (shrunk.format, shrunk.size) == ("JPEG", (200, 100))
    binary = b"\xff\x00" + SECRET.encode() + b"\xfe"
    kept = _scrubber().before_record_response(_response(binary))["body"]["string"]
    assert SECRET.encode() not in kept
    assert kept.startswith(b"\xff\x00")


@pytest.mark.parametrize("already_decoded", [True, False])
def test_content_encoding_is_undone(already_decoded: bool) -> None:
    # vcrpy's aiohttp stub stores the body decoded yet keeps the header;
    # other stubs store the compressed bytes. Both end up plain, headerless.
    plain = json.dumps({"logs": SECRET}).encode()
    body = plain if already_decoded else gzip.compress(plain)
    scrubbed = _scrubber().before_record_response(
        _response(body, Content_Encoding="gzip", Content_Type="application/json")
    )
    assert "Content-Encoding" not in scrubbed["headers"]
    assert json.loads(scrubbed["body"]["string"]) == {"logs": REDACTED}


def test_scrubber_survives_pytest_recordings_deepcopy_of_the_config() -> None:
    scrubber = CassetteScrubber()
    config = copy.deepcopy(shared_vcr_config(scrubber))
    scrubber.add_secrets(["added-later-secret"])
    hook = config["before_record_request"][0]
    request = Request("GET", "https://x.test/?q=added-later-secret", None, {})
    assert "added-later-secret" not in hook(request).uri


def test_shared_config_never_fixes_the_record_mode() -> None:
    config = shared_vcr_config()
    assert "record_mode" not in config
    assert "authorization" in config["filter_headers"]
    with pytest.raises(ValueError, match="--record-mode"):
        shared_vcr_config(record_mode="all")
    with pytest.raises(ValueError, match="--record-mode"):
        merged_vcr_config(config, {"record_mode": "once"})


def test_extra_hooks_run_after_the_scrubber_instead_of_replacing_it() -> None:
    seen: list[str] = []

    def mine(request: Request) -> Request:
        seen.append(request.uri)
        return request

    config = shared_vcr_config(CassetteScrubber(secrets=[SECRET]), before_record_request=mine)
    assert len(config["before_record_request"]) == 2
    request = Request("GET", f"https://x.test/?s={SECRET}", None, {})
    for hook in config["before_record_request"]:
        request = hook(request)
    assert seen
    assert SECRET not in seen[0]


def test_error_codes_survive_but_code_shaped_secrets_do_not() -> None:
    body = json.dumps({"error": {"code": "insufficient_quota"}, "oauth": {"code": "4/0AbCdEf-Gh"}})
    scrubbed = _scrubber().before_record_response(_response(body, content_type="application/json"))
    document = json.loads(scrubbed["body"]["string"])
    assert document["error"]["code"] == "insufficient_quota"
    assert document["oauth"]["code"] == REDACTED
