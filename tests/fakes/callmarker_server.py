"""A local Callmarker that speaks the documented adapter v1 format.

docs/callmarker.md is the contract: ``POST /api/v1/calls`` takes finished
calls (deduplicated by their ``Idempotency-Key``), ``GET /api/v1/results``
answers the analyses made in a window, page by page. Both check the bearer
token and the integration id. Error answers are queued with ``fail()``,
``hold()`` keeps requests waiting until ``release()``; ``/recordings/<name>``
plays the part of the PBX serving recordings.
"""

import json
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from .http_fake import FakeHttpService

WAV = (
    b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
    b"\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x08\x00\x00\x00"
    b"\x01\x00\x02\x00\x03\x00\x04\x00"
)
REQUIRED_CALL_KEYS = ("id", "started_at", "direction", "disposition")


def _parse(value):
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _in(result, start, end):
    """Whether a stored result belongs to the window (broken ones always do)."""
    try:
        return start <= _parse(result["analyzed_at"]) <= end
    except (TypeError, KeyError, ValueError, AttributeError):
        return True


class CallmarkerServer(FakeHttpService):
    def __init__(self, token="cm-token-5f0c2a9e", integration_id="clinic-42"):
        super().__init__()
        self.token = token
        self.integration_id = integration_id
        self.calls = {}  # idempotency key -> pushed body (first one)
        self.push_log = []  # every push body received, duplicates included
        self.results = []  # raw results the service holds
        self.result_queries = []  # query dicts of GET /results
        self.recording_requests = []
        self.recording_type = "audio/wav"  # what /recordings/ says it serves
        self.hits = {"push": 0, "results": 0}  # every request, errors included
        self.arrived = []  # endpoint of every request, as it arrives
        self.page_size = 50
        self.delay = 0.0
        self._faults = {"push": [], "results": []}
        self._lock = threading.Lock()

    # -- control ---------------------------------------------------------
    @property
    def push_url(self):
        return self.base_url + "/api/v1/calls"

    @property
    def results_url(self):
        return self.base_url + "/api/v1/results"

    def recording_url(self, name):
        return f"{self.base_url}/recordings/{name}"

    def fail(self, endpoint, status, body=None, headers=None, times=1, after=False):
        """Answer the next ``times`` requests of ``endpoint`` with an error.

        With ``after`` the request is processed first and only the answer is
        an error, as when a proxy loses the service's answer.
        """
        with self._lock:
            for _i in range(times):
                self._faults[endpoint].append((status, body, headers or {}, after))

    # -- HTTP --------------------------------------------------------------
    def _answer(self, handler, status, body=None, headers=None, raw=None):
        if raw is not None:
            self.send(handler, status, raw, headers, self.recording_type)
        else:
            self.send(handler, status, body or {}, headers)

    def _authorised(self, handler):
        return (
            handler.headers.get("Authorization") == f"Bearer {self.token}"
            and handler.headers.get("X-Callmarker-Integration") == self.integration_id
        )

    def handle(self, handler, method):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        if method == "GET" and parts.path.startswith("/recordings/"):
            self.recording_requests.append(parts.path)
            return self._answer(handler, 200, raw=WAV)
        endpoint = {
            ("POST", "/api/v1/calls"): "push",
            ("GET", "/api/v1/results"): "results",
        }.get((method, parts.path))
        if endpoint is None:
            return self._answer(handler, 404, {"error": "not found"})
        with self._lock:
            self.arrived.append(endpoint)
        self.wait_until_released()
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.hits[endpoint] += 1
            fault = self._faults[endpoint].pop(0) if self._faults[endpoint] else None
        override = None
        if fault:
            status, body, headers, after = fault
            override = (status, body or {"error": "fault"}, headers)
            if not after:
                return self._answer(handler, *override)
        if not self._authorised(handler):
            return self._answer(handler, 401, {"error": "invalid token or id"})
        if endpoint == "push":
            return self._push(handler, raw_body, override)
        return self._results(handler, parse_qs(parts.query))

    def _push(self, handler, raw_body, override=None):
        try:
            body = json.loads(raw_body)
            call = body["call"]
            missing = [key for key in REQUIRED_CALL_KEYS if not call.get(key)]
        except (ValueError, KeyError, TypeError):
            return self._answer(handler, 400, {"error": "body is not a call"})
        if missing:
            return self._answer(handler, 400, {"error": f"missing {missing}"})
        key = handler.headers.get("Idempotency-Key")
        if not key or key != body.get("idempotency_key"):
            return self._answer(handler, 400, {"error": "idempotency key required"})
        with self._lock:
            self.push_log.append(body)
            duplicate = key in self.calls
            self.calls.setdefault(key, body)
        if override:
            return self._answer(handler, *override)
        if duplicate:
            return self._answer(handler, 200, {"status": "duplicate"})
        return self._answer(handler, 202, {"status": "accepted"})

    def _results(self, handler, query):
        self.result_queries.append({k: v[0] for k, v in query.items()})
        try:
            start = _parse(query["from"][0])
            end = _parse(query["to"][0])
            page = int(query.get("page", ["1"])[0])
        except (KeyError, ValueError):
            return self._answer(handler, 400, {"error": "from and to are required"})
        if end < start or page < 1:
            return self._answer(handler, 400, {"error": "bad window"})
        window = [result for result in self.results if _in(result, start, end)]
        chunk = window[(page - 1) * self.page_size : page * self.page_size]
        more = page * self.page_size < len(window)
        return self._answer(
            handler,
            200,
            {"results": chunk, "page": page, "next_page": page + 1 if more else None},
        )
