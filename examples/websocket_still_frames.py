"""A still-frame bot that sends its images to a client over a plain websocket (no WebRTC).

    uv run examples/websocket_still_frames.py

Needs Pipecat's websocket transport: ``pipecat-ai[websocket]`` (the
``websockets`` package; Pipecat 1.x installs it with the base package).

**Why images "never arrive" over a websocket.** A Pipecat output transport
treats an image frame (``URLImageRawFrame`` is an ``OutputImageRawFrame``) as
a video frame: ``BaseOutputTransport`` drops it at once unless
``video_out_enabled`` is set, and even with it set the websocket transports
have no video path (they write audio, transport messages, interruptions and
end frames to the socket, nothing else). Their serializer could not carry one
either: ``ProtobufFrameSerializer`` knows text, audio, transcription, message
and interruption frames, and returns nothing for any other. No error, no
warning: the image simply goes nowhere.

**The fix**: send the picture as a *transport message*, which every
websocket transport writes and every serializer carries. :class:`ImagesToClient`,
in front of ``transport.output()``, encodes each image (JPEG, off the event
loop) into an ``OutputTransportMessageFrame`` whose ``message`` is JSON:
``{"type": "imagegen-image", "media_type": "image/jpeg", "width": ..,
"height": .., "data": "<base64>"}``. A browser client reads it from the
socket like any other server message. Keep the websocket's message size limit
in mind (the Python ``websockets`` client takes 1 MiB by default): a
1024x1024 JPEG is a few hundred kB once in base64.

The example runs the bot on a free loopback port and a real websocket
client against it: the client sends a prompt as a protobuf ``TextFrame``,
the bot draws it with the fake backend, and the client decodes the picture
it receives; first without :class:`ImagesToClient`, to show the picture
going nowhere. Exit status 0 when nothing arrived without it and a decodable
image of the announced size arrived with it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
from typing import TYPE_CHECKING, Any

import pipecat.frames.protobufs.frames_pb2 as frames_pb2
import websockets
from PIL import Image
from pipecat.frames.frames import Frame, OutputTransportMessageFrame, URLImageRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.protobuf import ProtobufFrameSerializer

from _example_kit import ImageSink, check, quiet_logs, run_script
from imagegen_core.pipecat import BackendImageGenService, pipeline_task

if TYPE_CHECKING:
    from pipecat.transports.websocket.server import (
        SingleClientWebsocketServerParams as ServerParams,
    )
    from pipecat.transports.websocket.server import (
        SingleClientWebsocketServerTransport as ServerTransport,
    )
else:
    try:  # Pipecat 1.4 renamed the websocket server (the old names still work, with a warning)
        from pipecat.transports.websocket.server import (
            SingleClientWebsocketServerParams as ServerParams,
        )
        from pipecat.transports.websocket.server import (
            SingleClientWebsocketServerTransport as ServerTransport,
        )
    except ImportError:  # before 1.4
        from pipecat.transports.websocket.server import WebsocketServerParams as ServerParams
        from pipecat.transports.websocket.server import WebsocketServerTransport as ServerTransport

MESSAGE_TYPE = "imagegen-image"
wire: Any = frames_pb2
"""Pipecat's protobuf messages (generated code, untyped): what its websocket clients speak."""


def encode_jpeg(frame: URLImageRawFrame, quality: int = 85) -> bytes:
    """The frame's raw pixels as a JPEG file."""
    image = Image.frombytes(frame.format or "RGB", frame.size, frame.image)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


class ImagesToClient(FrameProcessor):
    """Sends every image to the client as a transport message (what a websocket carries).

    Put it just before ``transport.output()``. The image frame itself is
    passed on too, for a transport with video output or a recorder after it.
    """

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, URLImageRawFrame) and direction is FrameDirection.DOWNSTREAM:
            jpeg = await asyncio.to_thread(encode_jpeg, frame)
            width, height = frame.size
            message = {
                "type": MESSAGE_TYPE,
                "media_type": "image/jpeg",
                "width": width,
                "height": height,
                "data": base64.b64encode(jpeg).decode("ascii"),
            }
            await self.push_frame(OutputTransportMessageFrame(message=message))
        await self.push_frame(frame, direction)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def client(url: str, prompt: str) -> dict[str, Any]:
    """A websocket client: send ``prompt`` as a TextFrame, return the first image message."""
    async with await _connect(url) as connection:
        await connection.send(wire.Frame(text=wire.TextFrame(text=prompt)).SerializeToString())
        async for raw in connection:
            if not isinstance(raw, bytes):
                continue
            frame = wire.Frame.FromString(raw)
            if frame.WhichOneof("frame") != "message":
                continue
            message: dict[str, Any] = json.loads(frame.message.data)
            if message.get("type") == MESSAGE_TYPE:
                return message
    raise RuntimeError("the connection closed before an image arrived")


async def _connect(url: str) -> Any:
    """Connect to ``url``, retrying while the bot's server is still starting.

    Pipecat before 1.9 tries to download NLTK data when the pipeline starts,
    which can hold the server back for seconds; the script's own time limit
    bounds the wait.
    """
    while True:
        try:
            return await websockets.connect(url)
        except OSError:
            await asyncio.sleep(0.1)


async def serve_one_prompt(*, send_images_as_messages: bool) -> tuple[dict[str, Any], int]:
    """Run the bot, let a client ask for one picture; what the client received, images drawn."""
    port = free_port()
    transport = ServerTransport(
        params=ServerParams(serializer=ProtobufFrameSerializer()), host="127.0.0.1", port=port
    )
    drawn = ImageSink()
    processors: list[FrameProcessor] = [
        transport.input(),
        BackendImageGenService(backend="fake"),
        drawn,
    ]
    if send_images_as_messages:
        processors.append(ImagesToClient())
    task = pipeline_task(Pipeline([*processors, transport.output()]), idle_timeout_secs=None)
    received: dict[str, Any] = {}

    async def script() -> None:
        asking = asyncio.ensure_future(client(f"ws://127.0.0.1:{port}", "a lighthouse at dawn"))
        await drawn.wait_for(1)
        # The client has a second after the bot drew the picture to receive it.
        done, _ = await asyncio.wait({asking}, timeout=1.0)
        if done:
            received.update(asking.result())
        else:
            asking.cancel()

    await run_script(task, script)
    return received, len(drawn.images)


async def main() -> int:
    lost, drawn = await serve_one_prompt(send_images_as_messages=False)
    print(f"without ImagesToClient: the bot drew {drawn} image(s), the client received {lost!r}")
    check(drawn == 1 and not lost, "expected the image frame itself to go nowhere")

    received, drawn = await serve_one_prompt(send_images_as_messages=True)
    check(received.get("type") == MESSAGE_TYPE, "the client received no image")
    picture = Image.open(io.BytesIO(base64.b64decode(received["data"])))
    print(
        f"with ImagesToClient: the client received a {picture.format} of "
        f"{picture.size[0]}x{picture.size[1]} ({len(received['data'])} base64 characters)"
    )
    check(picture.format == "JPEG", f"expected a JPEG, got {picture.format}")
    check(picture.size == (received["width"], received["height"]), "the picture has the wrong size")
    print("OK: the image went over the websocket as a transport message and decoded")
    return 0


if __name__ == "__main__":
    quiet_logs()
    raise SystemExit(asyncio.run(main()))
