"""How a provider's API carries one generation: what "remote work started" looks like.

The standard tests are the same for every backend except one: cancellation.
Cancelling is only testable once the provider is working on the request, and
what shows that differs by API:

* a **queue** API (Replicate's predictions, most hosted model APIs) answers
  the create request at once with a job id and runs the job on; the first
  reply is the sign, and cancelling must send a request (or let the job run
  out) so no job is left running. A cassette replays that first reply, then
  the cancel request.
* a **one-request** API (OpenAI's image endpoint and most synchronous APIs)
  holds the one request until the images are ready and answers with them;
  the work is the open request, and cancelling must abandon it (close the
  connection) in bounded time. A cassette cannot hold a request open, so the
  cancellation test runs against the live provider (an in-process
  :class:`~imagegen_testing.fake_server.FakeServerProvider`, typically), in
  replay runs too.
* a **streaming** API answers one request with a stream of events (progress,
  then images); like a one-request API, the work is the open connection.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ApiShape"]


class ApiShape(StrEnum):
    """The shape of a provider's API, as far as the standard tests care."""

    QUEUE = "queue"
    """A create request answered at once with a job that runs on (polled or waited for)."""
    ONE_REQUEST = "one-request"
    """One request, held open until its reply carries the images."""
    STREAMING = "streaming"
    """One request whose reply streams events, then the images."""

    @property
    def connection_bound(self) -> bool:
        """Whether the remote work lives exactly as long as the request's connection."""
        return self is not ApiShape.QUEUE
