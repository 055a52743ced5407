"""The one way clinic_pbx calls third-party web services (Calltouch, Callmarker).

A service's client is a ``ServiceClient``: where the service is, the token
and how it travels, which secrets never reach a log, how long to wait
(one ``Timeout`` rule) and how often to ask. Its requests go through
``request_json``, which sends one request, honours ``Retry-After`` on 429 a
bounded number of times, and turns every failure into a ``ServiceError``
subclass that says what to do next:

- ``ServiceAuthError`` (401/403): stop and tell a manager; retrying will not help.
- ``ServiceUnavailable`` (429 after retries, 5xx, timeouts, connection errors):
  retry on the next scheduled run; nothing was lost.
- ``ServiceError`` (other 4xx, a body that is not JSON): a request or data
  problem to show as is.

Secrets are never logged: query parameters and headers named in ``secrets``
are replaced by ``***`` in log lines and error messages.
"""

import logging
import numbers
import re
import time
import urllib.parse

import requests

_logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30  # seconds we are willing to wait inside one run
MAX_BODY_IN_MESSAGE = 300


class Timeout(tuple):
    """How long a request waits, in seconds: ``(connect, read)``, the pair
    ``requests`` takes (to connect, and for each read of the answer).

    Compared with a number, a Timeout is its read timeout: the longest a
    silent service keeps a run waiting. Odoo's test harness compares the
    timeout of every outgoing request with 10 s (and raises a shorter one);
    so the pair a client sends in production is the pair tests send.
    """

    __slots__ = ()

    def __new__(cls, connect, read=None):
        read = connect if read is None else read
        for value in (connect, read):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"a timeout is a number of seconds, not {value!r}")
            if not 0 < value <= 3600:
                raise ValueError(f"a timeout of {value} s is out of range")
        return super().__new__(cls, (connect, read))

    @classmethod
    def of(cls, value):
        """A Timeout from a number (both waits) or a ``(connect, read)`` pair."""
        if isinstance(value, cls):
            return value
        if isinstance(value, tuple | list):
            return cls(*value)
        return cls(value)

    @classmethod
    def parse(cls, text):
        """A Timeout from ``"30"`` (both waits) or ``"5,30"`` (connect, read)."""
        parts = [part for part in re.split(r"[\s,]+", text or "") if part]
        if not 1 <= len(parts) <= 2:
            raise ValueError(f"{text!r} is not a timeout: write 30 or 5,30")
        try:
            return cls(*(float(part) for part in parts))
        except ValueError as error:
            raise ValueError(f"{text!r} is not a timeout: {error}") from None

    @property
    def connect(self):
        return self[0]

    @property
    def read(self):  # pylint: disable=method-required-super
        return self[1]

    def __lt__(self, other):
        if isinstance(other, numbers.Real):
            return self.read < other
        return super().__lt__(other)

    def __le__(self, other):
        if isinstance(other, numbers.Real):
            return self.read <= other
        return super().__le__(other)

    def __gt__(self, other):
        if isinstance(other, numbers.Real):
            return self.read > other
        return super().__gt__(other)

    def __ge__(self, other):
        if isinstance(other, numbers.Real):
            return self.read >= other
        return super().__ge__(other)


DEFAULT_TIMEOUT = Timeout(5, 30)


class ServiceError(Exception):
    """A call to a web service failed; ``status`` is the HTTP status if any."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ServiceAuthError(ServiceError):
    """The service refused our credentials (401/403)."""


class ServiceUnavailable(ServiceError):
    """Temporary: rate limited, server error, timeout or unreachable."""

    def __init__(self, message, status=None, retry_after=None):
        super().__init__(message, status)
        self.retry_after = retry_after


def redact_url(url, secrets=()):
    """``url`` with the values of the query parameters named in ``secrets`` hidden."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    hidden = [(k, "***" if k in secrets else v) for k, v in query]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(hidden)))


def is_http_url(value):
    """Whether ``value`` is an http:// or https:// URL that names a server."""
    try:
        parts = urllib.parse.urlsplit(value or "")
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def _retry_after_seconds(response):
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short_body(response):
    text = (response.text or "").strip().replace("\n", " ")
    return text[:MAX_BODY_IN_MESSAGE]


def request_json(
    method,
    url,
    *,
    params=None,
    json=None,
    headers=None,
    secrets=(),
    timeout=DEFAULT_TIMEOUT,
    max_rate_limit_retries=2,
    sleep=time.sleep,
    session=None,
):
    """Send one request and return its decoded JSON body (None for an empty body).

    ``secrets`` names query parameters and headers whose values must not be
    logged. ``sleep`` is injectable so tests need not wait for real.
    """
    http = session or requests
    try:
        display = redact_url(
            requests.Request(method, url, params=params).prepare().url, secrets
        )
    except (requests.RequestException, ValueError) as error:
        raise ServiceError(
            f"{method}: the URL is not usable ({type(error).__name__})"
        ) from error
    attempt = 0
    while True:
        try:
            response = http.request(
                method, url, params=params, json=json, headers=headers, timeout=timeout
            )
        except requests.Timeout as error:
            raise ServiceUnavailable(
                f"{method} {display}: no answer in time"
            ) from error
        except requests.RequestException as error:
            raise ServiceUnavailable(
                f"{method} {display}: cannot connect ({type(error).__name__})"
            ) from error
        status = response.status_code
        if status == 429:
            wait = _retry_after_seconds(response)
            if (
                attempt < max_rate_limit_retries
                and wait is not None
                and wait <= MAX_RETRY_AFTER
            ):
                attempt += 1
                _logger.info(
                    "%s %s: rate limited, retrying in %ss", method, display, wait
                )
                sleep(wait)
                continue
            raise ServiceUnavailable(
                f"{method} {display}: rate limited (HTTP 429)", status, retry_after=wait
            )
        body = _short_body(response) if status >= 400 else ""
        if status in (401, 403):
            raise ServiceAuthError(
                f"{method} {display}: access refused (HTTP {status}) {body}", status
            )
        if status >= 500:
            raise ServiceUnavailable(
                f"{method} {display}: server error (HTTP {status}) {body}", status
            )
        if status >= 400:
            raise ServiceError(f"{method} {display}: HTTP {status} {body}", status)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ServiceError(
                f"{method} {display}: the answer is not JSON: {_short_body(response)}",
                status,
            ) from error


class _SecretFilter(logging.Filter):
    """Hides the values of secret query parameters in what the HTTP library
    logs at debug level (it writes the URLs it asks)."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def filter(self, record):
        message = record.getMessage()
        hidden = message
        for name in self.names:
            if name + "=" in hidden:
                hidden = re.sub(rf"({re.escape(name)}=)[^&\s\"']+", r"\1***", hidden)
        if hidden != message:
            record.msg = hidden
            record.args = ()
        return True


_secret_filter = _SecretFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_secret_filter)


class ServiceClient:
    """One account of a web service, and the one way clinic_pbx calls it.

    A subclass says which service it is (``service``, for the log), how long
    to wait (``timeout``), how often it may ask (``min_interval`` seconds
    between requests) and how the token travels (``token_param``, a query
    parameter, or ``token_header``, a bearer token; both are secrets, as are
    ``secret_names``). Every instance waits ``timeout`` unless it is given
    its own. Requests go through ``_request``: a failure keeps its
    ``ServiceError`` class, its message loses the token, and ``what`` says
    what was being done; the technical line (method and URL with the
    secrets hidden) goes to the log.

    Used as a context manager, the client keeps one connection for all its
    requests. ``sleep`` and ``clock`` are injectable so that tests need not
    wait for real.
    """

    service = "Web service"
    timeout = DEFAULT_TIMEOUT
    min_interval = 0.0
    token_param = None
    token_header = None
    secret_names = ()
    headers = {}  # sent with every request

    def __init__(
        self,
        base_url="",
        token="",
        *,
        timeout=None,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        self.base_url = (base_url or "").strip()
        self.token = (token or "").strip()
        if timeout is not None:
            self.timeout = Timeout.of(timeout)
        self.sleep = sleep
        self.clock = clock
        self.session = None
        self.requests_made = 0
        self._last_request = None

    def __init_subclass__(cls, **kwargs):
        # Query parameters the HTTP library's debug log must not show.
        _secret_filter.names.update(
            name for name in (cls.token_param, *cls.secret_names) if name
        )
        return super().__init_subclass__(**kwargs)

    def __enter__(self):
        self.session = requests.Session()
        return self

    def __exit__(self, *exc_info):
        self.session.close()
        self.session = None

    def _secrets(self):
        names = [self.token_param, self.token_header, *self.secret_names]
        return tuple(name for name in names if name)

    def _auth_params(self):
        return {self.token_param: self.token} if self.token_param else {}

    def _auth_headers(self):
        if not self.token_header:
            return {}
        if self.token_header == "Authorization":
            return {"Authorization": f"Bearer {self.token}"}
        return {self.token_header: self.token}

    def _url(self, url):
        """``url``, or a path under ``base_url``."""
        if self.base_url and not urllib.parse.urlsplit(url).scheme:
            return urllib.parse.urljoin(self.base_url.rstrip("/") + "/", url)
        return url

    def _scrub(self, text):
        return text.replace(self.token, "***") if self.token else text

    def _pace(self):
        if self._last_request is not None and self.min_interval:
            wait = self.min_interval - (self.clock() - self._last_request)
            if wait > 0:
                self.sleep(wait)

    def _request(self, method, url, *, params=None, json=None, headers=None, what=""):
        """Send one request; its decoded JSON answer (None for an empty one)."""
        self._pace()
        self._last_request = self.clock()
        self.requests_made += 1
        try:
            return request_json(
                method,
                self._url(url),
                params={**self._auth_params(), **(params or {})} or None,
                json=json,
                headers={**self.headers, **self._auth_headers(), **(headers or {})}
                or None,
                secrets=self._secrets(),
                timeout=self.timeout,
                sleep=self.sleep,
                session=self.session,
            )
        except ServiceError as error:
            # The body of an error answer might echo the token back.
            detail = self._scrub(str(error))
            _logger.info("%s request failed: %s", self.service, detail)
            prefix = f"{method} "
            reason = detail.split(": ", 1)[-1] if detail.startswith(prefix) else detail
            error.args = (f"{what}: {reason}" if what else reason,)
            raise
        finally:
            self._last_request = self.clock()

    def _get(self, url, params=None, what=""):
        return self._request("GET", url, params=params, what=what)
