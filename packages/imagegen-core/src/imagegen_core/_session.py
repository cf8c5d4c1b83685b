"""One aiohttp session per owner: the caller's, or one made on first use and closed by us.

The Pipecat service, the CLI and HTTP backends all take an optional session
from their caller (a Pipecat app already has one) and otherwise need their
own, created only when the first request is made (so constructing a backend
does no I/O, and listing backends opens nothing) and closed when they close.
A session the caller gave is never closed by us, and using it after the
caller closed it is the caller's mistake, reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from imagegen_core._errors import ErrorKind, ImageGenError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["SessionOwner"]


class SessionOwner:
    """Hands out an aiohttp session and closes it only if it made it.

    Args:
        session: The caller's session, used as it is and never closed here.
            None: a session is created on first :meth:`get` (and again after
            :meth:`aclose`, so an owner can be reused).
        user: Who uses the session, for the message when the caller's
            session turns out to be closed ("the Replicate backend").
        connector: Makes the connector of a session this owner creates
            (:func:`imagegen_core.http.guarded_connector`, say); aiohttp's
            default when None.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        user: str = "imagegen",
        connector: Callable[[], aiohttp.BaseConnector] | None = None,
    ) -> None:
        self._given = session
        self._own: aiohttp.ClientSession | None = None
        self._user = user
        self._connector = connector

    @property
    def owns_session(self) -> bool:
        """Whether the session comes from this owner (and is closed by :meth:`aclose`)."""
        return self._given is None

    def get(self) -> aiohttp.ClientSession:
        """The session to use now; made on first use when the caller gave none.

        Raises:
            ImageGenError: ``invalid_request`` when the caller's session is closed.
        """
        if self._given is not None:
            if self._given.closed:
                raise ImageGenError(
                    f"the aiohttp session given to {self._user} is closed",
                    kind=ErrorKind.INVALID_REQUEST,
                )
            return self._given
        if self._own is None or self._own.closed:
            # Imported here: an owner that never makes a request never pays for aiohttp.
            import aiohttp

            connector = self._connector() if self._connector is not None else None
            self._own = aiohttp.ClientSession(connector=connector)
        return self._own

    async def aclose(self) -> None:
        """Close the session this owner made, if any; the caller's is left open."""
        own, self._own = self._own, None
        if own is not None:
            await own.close()
