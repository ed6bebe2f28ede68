"""Web origins (RFC 6454) as browsers write them in `Origin` headers, for the origins whose pages
may use the API (TICKETING_CORS_ORIGINS)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


def normalize_origin(text: str) -> str:
    """`scheme://host[:port]` as a browser's Origin header writes it (lower case, no default
    port); ValueError for anything else: another scheme, a path, a query, credentials, `*`."""
    if not text.isascii() or any(c.isspace() for c in text) or text.endswith(("?", "#")):
        raise ValueError(f"{text!r} is not an origin: ASCII scheme://host[:port] only")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an origin: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{text!r} is not an origin: the scheme must be http or https")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"{text!r} is not an origin: no path, query or credentials ({scheme}://host[:port])"
        )
    host = _host(parts.hostname)
    if host is None:
        raise ValueError(f"{text!r} is not an origin: the host is missing or malformed")
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host(name: str | None) -> str | None:
    """A host name (lower case) or IP address as a URL writes it; None if it is neither."""
    if not name:
        return None
    if ":" in name:
        try:
            return f"[{ipaddress.IPv6Address(name)}]"
        except ValueError:
            return None
    return name if _HOST_NAME.fullmatch(name) else None
