"""Fetching a call's recording from wherever the PBX said it is, safely.

Plain Python, no ORM. A recording URL comes from the PBX, or from whoever
holds its API token, so it is treated as hostile:

- ``url_problem`` refuses URLs that parsers read differently (user info,
  backslashes, spaces, control characters): what is checked is what is
  requested;
- ``is_under`` tells whether a URL lies under the connection's *Recordings
  URL*, comparing the URL exactly as ``requests`` will send it;
- ``open_audio`` fetches either such a URL (with the recordings password),
  or, when the connection has no Recordings URL, a URL on a public address
  only: the host is resolved once, every address must be public, and the
  connection goes to that very address (no second lookup that DNS rebinding
  could switch). No redirects are followed; the answer must be audio; its
  size and the total time are capped.
"""

import contextlib
import ipaddress
import logging
import re
import socket
import threading
import time
import unicodedata
from socket import getaddrinfo
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

_logger = logging.getLogger(__name__)

# Media types a recording may be served as, and the file extension it gets.
AUDIO_TYPES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/flac": "flac",
}
# A recordings server the administrator named may serve files without a
# precise type (nginx's default); such answers are passed on as opaque bytes.
GENERIC_TYPE = "application/octet-stream"
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_BYTES = 512 * 1024 * 1024
MAX_SECONDS = 15 * 60
CHUNK = 64 * 1024
# Categories of characters a URL or an identifier may not contain: controls,
# invisible formatting (bidi overrides), lone surrogates, line separators.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
CONTENT_RANGE = re.compile(r"bytes (\d{1,18}-\d{1,18}|\*)/(\d{1,18}|\*)", re.ASCII)
DIGITS = re.compile(r"\d{1,18}", re.ASCII)


class RecordingRefused(Exception):
    """The recording URL or its answer is not one Odoo may fetch or pass on."""


def has_control_characters(text):
    return any(unicodedata.category(char) in CONTROL_CATEGORIES for char in text)


def url_problem(url):
    """Why ``url`` may not be fetched as a recording, or None when it may."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return "must be an http(s) URL"
    if has_control_characters(url) or any(char.isspace() for char in url):
        return "must not contain spaces or control characters"
    if "\\" in url:
        return "must not contain backslashes"
    authority = re.split(r"[/?#]", url.split("//", 1)[1], maxsplit=1)[0]
    if "@" in authority:
        return "must not contain a user name or password"
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is not a number
        has_host = False
    return None if has_host else "must be an http(s) URL"


def _sent_url(url):
    """``url`` parsed as ``requests`` will send it (urllib3's Url)."""
    try:
        prepared = requests.Request("GET", url).prepare().url
        parts = parse_url(prepared)
    except (requests.RequestException, ValueError) as error:
        raise RecordingRefused("not a URL requests can send") from error
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or not parts.host:
        raise RecordingRefused("not an http(s) URL")
    return parts, scheme, parts.host.lower(), parts.port or DEFAULT_PORTS[scheme]


def is_under(url, base_url):
    """True when ``url`` is on the server of ``base_url`` and under its path.

    Both are compared as they will be requested; a path that climbs out with
    ``..`` is not under anything.
    """
    if url_problem(url) or url_problem(base_url):
        return False
    try:
        parts, *origin = _sent_url(url)
        base, *base_origin = _sent_url(base_url)
    except RecordingRefused:
        return False
    if origin != base_origin:
        return False
    path = parts.path or "/"
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        return False
    prefix = base.path or "/"
    if not prefix.endswith("/"):
        prefix += "/"
    return path.startswith(prefix)


def is_public(address):
    """True for an address on the public internet (not loopback, private,
    link-local such as cloud metadata, shared, reserved or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve_public(host, port):
    """The one public address to connect to for ``host``, or RecordingRefused.

    Every address the name resolves to must be public: a name that also
    points inside the network is refused rather than tried address by address.
    """
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise RecordingRefused("the host does not resolve") from error
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(is_public(address) for address in addresses):
        raise RecordingRefused("the host is not on a public address")
    return addresses[0]


class _PinnedHostAdapter(HTTPAdapter):
    """HTTPS to an IP address while checking the certificate of ``hostname``."""

    def __init__(self, hostname, **kwargs):
        self._hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        return super().init_poolmanager(*args, **kwargs)


class AudioResponse:
    """An upstream answer that may be passed on to a browser.

    ``status`` is 200, 206 or 416; ``content_type`` comes from AUDIO_TYPES
    (or GENERIC_TYPE), never from the upstream text; ``headers`` holds only
    checked Content-Length, Content-Range and Accept-Ranges values.
    """

    def __init__(self, response, session, content_type, headers, deadline):
        self.status = response.status_code
        self.content_type = content_type
        self.extension = AUDIO_TYPES.get(content_type, "bin")
        self.headers = headers
        self._response = response
        self._session = session
        self._deadline = deadline

    def chunks(self):
        """The body, cut off after MAX_BYTES or at the deadline.

        Raises requests.RequestException when the server breaks off.
        """
        if self.status == 416:
            self.close()
            return
        # A server that drips bytes would hold a worker for ever: at the
        # deadline the connection is shut, which ends any read in progress.
        # (Through a duplicate of its socket, so a late timer cannot reach a
        # descriptor the system has since given to something else.)
        try:
            guard = socket.fromfd(
                self._response.raw.fileno(), socket.AF_INET, socket.SOCK_STREAM
            )
        except (OSError, ValueError):
            guard = None
        watchdog = None
        if guard is not None:
            remaining = max(0.0, self._deadline - time.monotonic())
            watchdog = threading.Timer(remaining, _shut, (guard,))
            watchdog.daemon = True
            watchdog.start()
        sent = 0
        try:
            for chunk in self._response.iter_content(CHUNK):
                sent += len(chunk)
                if sent > MAX_BYTES or time.monotonic() > self._deadline:
                    _logger.warning("A recording was cut off: too long or too slow")
                    return
                yield chunk
        finally:
            if watchdog is not None:
                watchdog.cancel()
                guard.close()
            self.close()

    def close(self):
        self._response.close()
        self._session.close()


def _shut(sock):
    with contextlib.suppress(OSError):  # already closed: nothing to cut off
        sock.shutdown(socket.SHUT_RDWR)


def _passed_headers(response):
    headers = {}
    length = response.headers.get("Content-Length", "").strip()
    if DIGITS.fullmatch(length):
        if int(length) > MAX_BYTES:
            raise RecordingRefused("the recording is too large")
        headers["Content-Length"] = length
    content_range = response.headers.get("Content-Range", "").strip()
    if CONTENT_RANGE.fullmatch(content_range):
        headers["Content-Range"] = content_range
    if response.headers.get("Accept-Ranges", "").strip().lower() == "bytes":
        headers["Accept-Ranges"] = "bytes"
    return headers


def _content_type(response, trusted_server):
    raw = response.headers.get("Content-Type")
    media_type = (raw or "").split(";", 1)[0].strip().lower()
    if media_type in AUDIO_TYPES:
        return media_type
    if trusted_server and media_type in ("", GENERIC_TYPE):
        return GENERIC_TYPE
    raise RecordingRefused("the answer is not audio")


def open_audio(url, base_url=None, auth=None, byte_range=None, timeout=20):
    """Open ``url`` as a streamed AudioResponse, or raise RecordingRefused.

    With ``base_url`` (the connection's Recordings URL) only URLs under it
    are fetched, and ``auth`` is sent with them. Without it, only URLs on a
    public address are fetched, without credentials. Either way nothing is
    requested before the URL passed the checks.
    """
    problem = url_problem(url)
    if problem:
        raise RecordingRefused(problem)
    parts, scheme, host, port = _sent_url(url)
    session = requests.Session()
    headers = {"Range": byte_range} if byte_range else {}
    if base_url:
        if not is_under(url, base_url):
            raise RecordingRefused("not under the connection's Recordings URL")
        target = parts.url
    else:
        auth = None
        address = resolve_public(host.strip("[]"), port)
        literal = f"[{address}]" if ":" in address else address
        target = parts._replace(host=literal).url
        headers["Host"] = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
        if scheme == "https":
            session.mount("https://", _PinnedHostAdapter(host))
    deadline = time.monotonic() + MAX_SECONDS
    try:
        response = session.get(
            target,
            headers=headers,
            auth=auth,
            stream=True,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException:
        session.close()
        raise
    try:
        if response.status_code not in (200, 206, 416):
            raise RecordingRefused(f"the server answered HTTP {response.status_code}")
        if response.status_code == 416:
            content_type = GENERIC_TYPE
        else:
            content_type = _content_type(response, trusted_server=bool(base_url))
        passed = _passed_headers(response)
    except RecordingRefused:
        response.close()
        session.close()
        raise
    return AudioResponse(response, session, content_type, passed, deadline)
