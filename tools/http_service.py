"""The one way clinic_pbx calls third-party web services (Calltouch, Callmarker).

``request_json`` sends one request with timeouts, honours ``Retry-After`` on
429 a bounded number of times, and turns every failure into a
``ServiceError`` subclass that says what to do next:

- ``ServiceAuthError`` (401/403): stop and tell a manager; retrying will not help.
- ``ServiceUnavailable`` (429 after retries, 5xx, timeouts, connection errors):
  retry on the next scheduled run; nothing was lost.
- ``ServiceError`` (other 4xx, a body that is not JSON): a request or data
  problem to show as is.

Secrets are never logged: query parameters and headers named in ``secrets``
are replaced by ``***`` in log lines and error messages.
"""

import logging
import time
import urllib.parse

import requests

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20  # seconds to connect, and between bytes of the answer
MAX_RETRY_AFTER = 30  # seconds we are willing to wait inside one run
MAX_BODY_IN_MESSAGE = 300


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
