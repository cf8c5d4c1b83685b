"""HTTP helpers that every backend talking to a web API needs, public and documented.

A backend author should not have to rewrite, and get subtly different, the
chores that decide whether a provider's reply is safe to take in:

- :func:`download` / :class:`Download`: fetch an output a provider returned as
  a link, capped in bytes, with per-phase time limits and retries of transient
  failures; :func:`describe_url` names a URL in messages without its signed
  query string;
- :func:`read_capped`: read any response body under a byte cap, refused as
  soon as it is known to be too long;
- :class:`~imagegen_core.AddressPolicy`: where such links may lead (private,
  loopback and link-local addresses are refused unless trusted), checked by
  :func:`download` on the address it connects to, on every redirect, and by
  sessions built on :func:`guarded_connector` before they connect;
- :func:`retry_after_seconds`: the seconds a ``Retry-After`` header asks for,
  in either of its forms;
- :func:`call_with_retries`: a tenacity retry policy that costs nothing
  until the first attempt fails;
- :class:`SessionOwner`: the caller's aiohttp session, or one made on first
  use and closed by its maker.

The core's Pipecat service and CLI use the same functions, so a backend built
on them behaves exactly like the bundled ones. Importing this module imports
aiohttp; ``import imagegen_core`` alone does not.
"""

from imagegen_core._addresses import AddressPolicy
from imagegen_core._downloads import (
    DEFAULT_DOWNLOAD_ATTEMPTS,
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    MAX_REDIRECTS,
    Download,
    describe_url,
    download,
    guarded_connector,
)
from imagegen_core._http_limits import BODY_CHUNK_BYTES, read_capped, retry_after_seconds
from imagegen_core._retries import call_with_retries
from imagegen_core._session import SessionOwner

__all__ = [
    "BODY_CHUNK_BYTES",
    "DEFAULT_DOWNLOAD_ATTEMPTS",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "MAX_REDIRECTS",
    "AddressPolicy",
    "Download",
    "SessionOwner",
    "call_with_retries",
    "describe_url",
    "download",
    "guarded_connector",
    "read_capped",
    "retry_after_seconds",
]
