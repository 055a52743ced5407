"""Callmarker wire format: the one module that knows how the service speaks.

No public Callmarker API exists, so clinic_pbx defines the contract documented
in ``docs/callmarker.md`` ("Callmarker adapter v1"). Everything outside this
module works with neutral data:

- a *call* handed to ``CallmarkerClient.push_call`` is a plain dict (see
  ``CALL_KEYS``) built by ``pbx.call._callmarker_call_data``;
- results come back from ``CallmarkerClient.fetch_results`` as
  ``AnalysisResult`` objects, plus the reasons why malformed results were
  skipped.

A clinic whose contract differs replaces the bodies of ``push_call``,
``fetch_results`` and ``check_connection`` (and the parsing helpers below)
and nothing else. The client is a ``http_service.ServiceClient``: its
requests map failures to ``ServiceAuthError`` (401/403),
``ServiceUnavailable`` (429, 5xx, timeouts) and ``ServiceError``.

Plain Python, no ORM.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from .call_events import parse_time
from .http_service import ServiceClient, ServiceError

PROTOCOL = "callmarker-adapter/1"
MAX_PAGES = 200
MAX_TAGS = 100
MAX_CHECKLIST = 200
MAX_TEXT = 255
MAX_SUMMARY = 20000
TOKEN_HEADER = "Authorization"
INTEGRATION_HEADER = "X-Callmarker-Integration"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# Keys of the neutral call dict given to push_call.
CALL_KEYS = (
    "id",
    "pbx_call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "direction",
    "src",
    "dst",
    "did",
    "caller_number",
    "extension",
    "admin",
    "disposition",
    "wait_seconds",
    "talk_seconds",
    "total_seconds",
    "recording_url",
    "recording_expires_at",
)


@dataclass
class AnalysisResult:
    """One analysed call, in the neutral model of the call-analytics connector.

    ``None`` for tags, score, checklist or summary means "not in this result":
    the stored value is left as it is. An empty list clears tags or checklist.
    ``score`` is a percentage (0–100) whatever scale the service used.
    """

    call_id: str
    analyzed_at: datetime
    tags: list | None = None  # [(category, name)]
    score: float | None = None
    checklist: list | None = None  # [(criterion, passed, weight)]
    summary: str | None = None


class MalformedResult(ValueError):
    """A result that cannot be used; the message says why."""


# ----------------------------------------------------------------------------
# Requests
# ----------------------------------------------------------------------------


def _iso(moment):
    """Naive UTC datetime -> ``2026-11-05T06:17:30Z`` (None stays None)."""
    if not moment:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


def push_body(integration_id, call, idempotency_key):
    """The JSON body sent to the Request Data URL for one finished call."""
    recording = None
    if call.get("recording_url"):
        recording = {
            "url": call["recording_url"],
            "expires_at": _iso(call.get("recording_expires_at")),
        }
    return {
        "integration_id": integration_id,
        "idempotency_key": idempotency_key,
        "call": {
            "id": str(call["id"]),
            "pbx_call_id": call.get("pbx_call_id"),
            "started_at": _iso(call.get("started_at")),
            "answered_at": _iso(call.get("answered_at")),
            "ended_at": _iso(call.get("ended_at")),
            "direction": call.get("direction"),
            "from": call.get("src") or None,
            "to": call.get("dst") or None,
            "did": call.get("did") or None,
            "caller_number": call.get("caller_number") or None,
            "extension": call.get("extension") or None,
            "admin": call.get("admin"),
            "disposition": call.get("disposition"),
            "wait_seconds": call.get("wait_seconds") or 0,
            "talk_seconds": call.get("talk_seconds") or 0,
            "total_seconds": call.get("total_seconds") or 0,
            "recording": recording,
        },
    }


def results_params(integration_id, date_from, date_to, page):
    return {
        "integration_id": integration_id,
        "from": _iso(date_from),
        "to": _iso(date_to),
        "page": page,
    }


class CallmarkerClient(ServiceClient):
    """Sends calls to one clinic's Callmarker and fetches their analyses.

    Used as a context manager (``with client:``), one connection serves a
    whole batch of calls or pages of results.
    """

    service = "Callmarker"
    token_header = TOKEN_HEADER
    headers = {
        "Accept": "application/json",
        "User-Agent": "clinic_pbx (Odoo) " + PROTOCOL,
    }

    def __init__(self, call_data_url, request_data_url, integration_id, token, **kw):
        super().__init__(token=token, **kw)
        self.call_data_url = (call_data_url or "").strip()
        self.request_data_url = (request_data_url or "").strip()
        self.integration_id = (integration_id or "").strip()

    def _auth_headers(self):
        return dict(
            super()._auth_headers(), **{INTEGRATION_HEADER: self.integration_id}
        )

    def push_call(self, call, idempotency_key):
        """Send one finished call; returns the service's status ("accepted"...).

        The idempotency key is the same on every attempt for a call, so a
        service that already has the call answers "duplicate" instead of
        storing it twice.
        """
        answer = self._request(
            "POST",
            self.request_data_url,
            json=push_body(self.integration_id, call, idempotency_key),
            headers={IDEMPOTENCY_HEADER: idempotency_key},
        )
        if isinstance(answer, dict) and isinstance(answer.get("status"), str):
            return answer["status"]
        return "accepted"

    def fetch_results(self, date_from, date_to):
        """Results analysed in [date_from, date_to] (naive UTC), all pages.

        Returns ``(results, skipped)``: the usable ``AnalysisResult`` objects
        and ``(call id or position, reason)`` for each result that was
        skipped. Raises a ``ServiceError`` when the answer as a whole is
        unusable.
        """
        results, skipped = [], []
        page = 1
        for _round in range(MAX_PAGES):
            answer = self._get(
                self.call_data_url,
                results_params(self.integration_id, date_from, date_to, page),
            )
            items, next_page = _page_items(answer)
            for position, raw in enumerate(items):
                try:
                    results.append(parse_result(raw))
                except MalformedResult as error:
                    ref = raw.get("call_id") if isinstance(raw, dict) else None
                    skipped.append(
                        (str(ref or f"page {page} #{position + 1}"), str(error))
                    )
            if not next_page:
                return results, skipped
            if not isinstance(next_page, int) or next_page <= page:
                raise ServiceError(
                    f"Callmarker gave an invalid next_page: {next_page!r}"
                )
            page = next_page
        raise ServiceError(
            f"Callmarker answered more than {MAX_PAGES} pages of results"
        )

    def check_connection(self, now):
        """Ask for the results of an empty window: proves URL, ID and token work."""
        answer = self._get(
            self.call_data_url, results_params(self.integration_id, now, now, 1)
        )
        _page_items(answer)
        return True


# ----------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------


def _page_items(answer):
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise ServiceError(
            'Callmarker answered without a "results" list; is the Call Data URL '
            "the results endpoint?"
        )
    return answer["results"], answer.get("next_page")


def _clean_text(value, what, limit=MAX_TEXT):
    if not isinstance(value, str) or not value.strip():
        raise MalformedResult(f"{what} must be a non-empty string")
    value = " ".join(value.split())
    if len(value) > limit:
        raise MalformedResult(f"{what} is longer than {limit} characters")
    return value


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResult(f"{what} must be a number")
    if not math.isfinite(value):
        raise MalformedResult(f"{what} must be a finite number")
    return float(value)


def _parse_tags(raw):
    if not isinstance(raw, list):
        raise MalformedResult("tags must be a list")
    if len(raw) > MAX_TAGS:
        raise MalformedResult(f"more than {MAX_TAGS} tags")
    tags = []
    for position, tag in enumerate(raw, 1):
        if not isinstance(tag, dict):
            raise MalformedResult(f"tag {position} must be an object")
        pair = (
            _clean_text(tag.get("category"), f"tag {position} category"),
            _clean_text(tag.get("name"), f"tag {position} name"),
        )
        if pair not in tags:
            tags.append(pair)
    return tags


def _parse_score(raw):
    if not isinstance(raw, dict):
        raise MalformedResult('score must be an object {"value", "max"}')
    value = _number(raw.get("value"), "score value")
    top = _number(raw.get("max", 100), "score max")
    if top <= 0:
        raise MalformedResult("score max must be above 0")
    if not 0 <= value <= top:
        raise MalformedResult(f"score value {value:g} is outside 0…{top:g}")
    return round(value * 100.0 / top, 1)


def _parse_checklist(raw):
    if not isinstance(raw, list):
        raise MalformedResult("checklist must be a list")
    if len(raw) > MAX_CHECKLIST:
        raise MalformedResult(f"more than {MAX_CHECKLIST} checklist items")
    items, seen = [], set()
    for position, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise MalformedResult(f"checklist item {position} must be an object")
        criterion = _clean_text(
            item.get("criterion"), f"checklist item {position} criterion"
        )
        passed = item.get("passed")
        if not isinstance(passed, bool):
            raise MalformedResult(
                f"checklist item {position} passed must be true or false"
            )
        weight = item.get("weight", 1)
        weight = _number(weight, f"checklist item {position} weight")
        if criterion.casefold() in seen:
            raise MalformedResult(f"checklist criterion {criterion!r} appears twice")
        seen.add(criterion.casefold())
        items.append((criterion, passed, weight))
    return items


def parse_result(raw):
    """One result of the Call Data URL -> ``AnalysisResult`` or ``MalformedResult``."""
    if not isinstance(raw, dict):
        raise MalformedResult("a result must be an object")
    call_id = raw.get("call_id")
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    call_id = _clean_text(call_id, "call_id", 64)
    analyzed_at = parse_time(raw.get("analyzed_at"))
    if analyzed_at is None:
        raise MalformedResult("analyzed_at must be an ISO 8601 time with an offset")
    result = AnalysisResult(call_id=call_id, analyzed_at=analyzed_at)
    if raw.get("tags") is not None:
        result.tags = _parse_tags(raw["tags"])
    if raw.get("score") is not None:
        result.score = _parse_score(raw["score"])
    if raw.get("checklist") is not None:
        result.checklist = _parse_checklist(raw["checklist"])
    if raw.get("summary") is not None:
        if not isinstance(raw["summary"], str):
            raise MalformedResult("summary must be a string")
        result.summary = raw["summary"].strip()[:MAX_SUMMARY]
    return result
