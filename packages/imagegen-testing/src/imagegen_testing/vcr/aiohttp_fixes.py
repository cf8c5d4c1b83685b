"""Work-arounds for vcrpy's aiohttp stub, each with a test in ``tests/test_vcr_aiohttp.py``.

Known problem handled here: a ``ClientSession(base_url=...)`` request with a
relative URL (``session.post("predictions")``) reaches vcrpy's stub before
aiohttp joins it to the base URL, so the cassette records the bare path as the
URI: no scheme, no host. Replay then matches requests to any host, and host
rewriting (which keeps emulator ports out of cassettes) has nothing to rewrite.
:func:`resolve_aiohttp_base_url` joins the URL first, exactly as aiohttp would.

Handled elsewhere (:mod:`imagegen_testing.vcr.scrub`): ``json=`` bodies reach
the cassette as Python objects rather than the JSON sent, and bodies are
recorded already decompressed while ``Content-Encoding`` stays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["resolve_aiohttp_base_url"]

_MARK = "_imagegen_resolves_base_url"


@contextmanager
def resolve_aiohttp_base_url() -> Iterator[None]:
    """While inside, sessions with a ``base_url`` hand absolute URLs to vcrpy's stub.

    Enter it *inside* an active cassette (it wraps whatever
    ``ClientSession._request`` is at that moment, i.e. vcrpy's stub) and leave
    it before the cassette exits. Nesting is harmless.
    """
    from aiohttp import ClientSession

    current: Callable[..., Any] = ClientSession._request
    if getattr(current, _MARK, False):
        yield
        return
    ClientSession._request = _joining(current)  # type: ignore[method-assign]
    try:
        yield
    finally:
        ClientSession._request = current  # type: ignore[method-assign]


def _joining(request: Callable[..., Any]) -> Callable[..., Any]:
    from yarl import URL

    @functools.wraps(request)
    async def joined(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        base = getattr(self, "_base_url", None)
        if base is not None:
            url = URL(str_or_url)
            if not url.absolute:
                str_or_url = base.join(url)
        return await request(self, method, str_or_url, **kwargs)

    setattr(joined, _MARK, True)
    return joined
