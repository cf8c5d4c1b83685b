"""Which network addresses a link a provider returned may lead to.

A provider's reply is untrusted input, and an output URL in it is fetched by
us, from inside the user's network: a reply pointing at
``http://169.254.169.254/`` (a cloud's metadata service), at ``localhost`` or
at a private address would make the bot fetch what only the bot can reach.
So such targets are refused by default, whether the URL names the address or
a DNS name resolves to it, and on every redirect hop; the check is made on
the address actually connected to (see :mod:`imagegen_core._downloads`).

Two things lift the refusal, because local and self-hosted providers are
real: the host of the backend's own API base URL is trusted (the emulator on
``127.0.0.1``, a provider on the LAN, with no setting), and
``allow_private`` trusts every target.

This module does no I/O and imports no aiohttp, so backends can describe
their policy without paying for the HTTP stack.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["AddressPolicy", "host_of"]


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Where links a provider returned may be fetched from.

    Args:
        allow_private: Fetch from private, loopback, link-local and other
            non-public addresses too (a self-hosted provider whose files live
            on another host of the LAN, say).
        trusted_hosts: Host names (or address literals) always fetched from,
            whatever they resolve to: normally the host of the backend's API
            base URL. Compared without case and port.
    """

    allow_private: bool = False
    trusted_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_base_urls(cls, *urls: str | None, allow_private: bool = False) -> AddressPolicy:
        """The policy that trusts the hosts of ``urls`` (``None`` and malformed ones skipped)."""
        hosts = (host_of(url) for url in urls if url)
        return cls(allow_private=allow_private, trusted_hosts=_normalised(hosts))

    @classmethod
    def for_settings(cls, settings: object) -> AddressPolicy:
        """The usual policy of a backend with these settings.

        It trusts the host of the API base URL: what the settings'
        ``resolve_base_url()`` returns when they have that method, else their
        ``base_url`` field. An ``allow_private_urls`` field set to true allows
        every private, loopback and link-local address.
        """
        resolve = getattr(settings, "resolve_base_url", None)
        try:
            base_url = resolve() if callable(resolve) else getattr(settings, "base_url", None)
        except ValueError:  # an unusable base URL fails the request itself, clearly
            base_url = None
        allow_private = getattr(settings, "allow_private_urls", False) is True
        if cls is not AddressPolicy:
            return cls.for_base_urls(
                base_url if isinstance(base_url, str) else None, allow_private=allow_private
            )
        return _policy_for(base_url if isinstance(base_url, str) else None, allow_private)

    def trusts(self, host: str) -> bool:
        """Whether links to ``host`` are fetched without looking at its addresses."""
        return self.allow_private or _normalise(host) in self.trusted_hosts

    def refusal(self, host: str, address: str) -> str | None:
        """Why ``host``, connected at ``address``, is refused; None when it may be fetched.

        An address that cannot be read is refused too: nothing unexplained
        is connected to.
        """
        if self.trusts(host):
            return None
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "an address that cannot be read"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_global and not ip.is_multicast:
            return None
        return f"{_describe(ip)} address ({ip})"


@functools.lru_cache(maxsize=64)
def _policy_for(base_url: str | None, allow_private: bool) -> AddressPolicy:
    """The policy of one base URL, parsed once: downloads ask for it per image.

    Cached on the values it is made of (the policy is immutable), not on the
    settings object: the base URL may come from the environment, read anew
    at each use.
    """
    return AddressPolicy.for_base_urls(base_url, allow_private=allow_private)


def host_of(url: str) -> str | None:
    """The host a URL names, lower-cased, without port or brackets; None when it names none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return _normalise(host) if host else None


def _normalised(hosts: Iterable[str | None]) -> frozenset[str]:
    return frozenset(_normalise(host) for host in hosts if host)


def _normalise(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _describe(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_private:
        return "a private"
    if ip.is_multicast:
        return "a multicast"
    return "a non-public"
