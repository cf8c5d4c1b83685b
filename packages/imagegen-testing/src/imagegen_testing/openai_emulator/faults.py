"""Scripted misbehaviour of the OpenAI emulator: the bad days a client must survive.

Each :class:`OpenAIFault` applies to the next request on its routes
(:meth:`OpenAIEmulator.script <imagegen_testing.openai_emulator.OpenAIEmulator.script>`):
an error reply in OpenAI's format (with rate-limit headers when it is a 429),
a moderation refusal, a connection reset before or after the images were
made (and billed), a slow generation, an error event or a cut in the middle of
a stream, fewer images than asked, or bytes that are not an image.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["OpenAIFault", "OpenAIFaultKind", "OpenAIFaultPlan", "OpenAIRoute"]


class OpenAIRoute(StrEnum):
    """The emulator's routes."""

    GENERATIONS = "images.generate"
    EDITS = "images.edit"
    FILES = "files.get"
    """Links of ``response_format=url`` outputs (DALL-E)."""


_API_ROUTES = frozenset({OpenAIRoute.GENERATIONS, OpenAIRoute.EDITS})


class OpenAIFaultKind(StrEnum):
    """What an :class:`OpenAIFault` does."""

    HTTP_ERROR = "http_error"
    CONNECTION_RESET = "connection_reset"
    SLOW = "slow"
    STREAM_ERROR = "stream_error"
    STREAM_CUT = "stream_cut"
    FEWER_IMAGES = "fewer_images"
    BAD_IMAGE = "bad_image"


@dataclass(frozen=True)
class OpenAIFault:
    """One scripted misbehaviour. Build it with the class-method constructors."""

    kind: OpenAIFaultKind
    routes: frozenset[OpenAIRoute] = _API_ROUTES
    status: int = 0
    code: str | None = None
    error_type: str | None = None
    message: str = ""
    param: str | None = None
    retry_after: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    after_processing: bool = False
    seconds: float = 0.0
    after_events: int = 0
    images: int = 0

    @classmethod
    def http_error(
        cls,
        status: int,
        *,
        code: str | None = None,
        error_type: str | None = None,
        message: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        html: bool = False,
    ) -> OpenAIFault:
        """Answer with ``status`` and OpenAI's error body (or an HTML page, with ``html``)."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be 4xx or 5xx, got {status}")
        return cls(
            OpenAIFaultKind.HTTP_ERROR,
            status=status,
            code=None if html else code,
            error_type="html" if html else (error_type or _default_type(status)),
            message=message or f"Scripted {status} from the OpenAI emulator",
            param=param,
            retry_after=retry_after,
            headers=tuple((headers or {}).items()),
        )

    @classmethod
    def rate_limited(
        cls, *, reset: str = "1s", retry_after: float | None = None, limit: str = "requests"
    ) -> OpenAIFault:
        """A ``429 rate_limit_exceeded`` with the exhausted limit's reset header (``6m0s``)."""
        if limit not in {"requests", "tokens"}:
            raise ValueError("limit must be 'requests' or 'tokens'")
        return cls.http_error(
            429,
            code="rate_limit_exceeded",
            error_type=limit,
            message=(
                f"Rate limit reached for images in organization org-emulator on {limit} per "
                f"min. Please try again in {reset}."
            ),
            retry_after=retry_after,
            headers={f"x-ratelimit-remaining-{limit}": "0", f"x-ratelimit-reset-{limit}": reset},
        )

    @classmethod
    def insufficient_quota(cls) -> OpenAIFault:
        """A ``429 insufficient_quota``: the account is out of credit (no reset to wait for)."""
        return cls.http_error(
            429,
            code="insufficient_quota",
            error_type="insufficient_quota",
            message="You exceeded your current quota, please check your plan and billing details.",
        )

    @classmethod
    def moderation_blocked(cls) -> OpenAIFault:
        """A ``400 moderation_blocked``, as GPT image models refuse a prompt."""
        return cls.http_error(
            400,
            code="moderation_blocked",
            error_type="image_generation_user_error",
            message="Your request was rejected by the safety system.",
        )

    @classmethod
    def connection_reset(cls, *, after_processing: bool = False) -> OpenAIFault:
        """Reset the connection instead of replying; with ``after_processing``, after billing."""
        return cls(OpenAIFaultKind.CONNECTION_RESET, after_processing=after_processing)

    @classmethod
    def slow(cls, seconds: float) -> OpenAIFault:
        """Each image takes ``seconds`` to make (partial previews spread over that time)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return cls(OpenAIFaultKind.SLOW, seconds=seconds)

    @classmethod
    def stream_error(cls, *, after_events: int = 1, code: str = "server_error") -> OpenAIFault:
        """Send an ``error`` event after ``after_events`` events of a stream, then end it."""
        return cls(
            OpenAIFaultKind.STREAM_ERROR,
            after_events=after_events,
            code=code,
            message="Scripted stream error from the OpenAI emulator",
        )

    @classmethod
    def stream_cut(cls, *, after_events: int = 1) -> OpenAIFault:
        """Drop the connection after ``after_events`` events of a stream."""
        return cls(OpenAIFaultKind.STREAM_CUT, after_events=after_events)

    @classmethod
    def fewer_images(cls, images: int) -> OpenAIFault:
        """Return only ``images`` images, whatever ``n`` asked for."""
        if images < 0:
            raise ValueError("images must not be negative")
        return cls(OpenAIFaultKind.FEWER_IMAGES, images=images)

    @classmethod
    def bad_image(cls) -> OpenAIFault:
        """Return base64 of bytes that are none of the formats the API returns (png, jpeg, webp)."""
        return cls(OpenAIFaultKind.BAD_IMAGE)


def _default_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    return "server_error" if status >= 500 else "invalid_request_error"


@dataclass
class OpenAIFaultPlan:
    """The faults still to come, first in first out, each for one request on its routes."""

    _steps: deque[tuple[OpenAIFault, ...]] = field(default_factory=deque)

    def script(self, *faults: OpenAIFault, times: int = 1) -> None:
        """Apply ``faults`` together to each of the next ``times`` API requests.

        Raises:
            ValueError: No faults, or ``times`` below 1.
        """
        if not faults:
            raise ValueError("script() needs at least one fault")
        if times < 1:
            raise ValueError("times must be at least 1")
        for _ in range(times):
            self._steps.append(tuple(faults))

    def take(self, route: OpenAIRoute) -> tuple[OpenAIFault, ...]:
        """The faults for one request on ``route`` (consuming the first step that fits)."""
        for step in self._steps:
            if all(route in fault.routes for fault in step):
                self._steps.remove(step)
                return step
        return ()

    def clear(self) -> None:
        """Forget every scripted step."""
        self._steps.clear()

    @property
    def pending(self) -> int:
        """Scripted requests still to come."""
        return len(self._steps)
