"""A local Calltouch: the documented read API on 127.0.0.1, for tests and benchmarks.

It answers like the real service (see docs/calltouch.md and the shared
integration notes): the calls diary with ``dd/mm/yyyy`` dates, pages of at
most 1,000 in an envelope (or a bare array without paging, or always in
``legacy_calls`` mode), ``callTags`` only when asked for; the requests
journal with ``mm/dd/yyyy`` dates and ``hh:mm:ss`` times as a bare array,
``RequestTags`` only when asked for. A wrong date format is a 400, a wrong
token a 401, a site the token has no rights on a 403, more than 5 requests
in a second a 429 with ``Retry-After: 1``. ``fail_next`` queues answers
(a status, a ``Retry-After``, a delay) for the next requests of an endpoint;
``hold`` keeps requests waiting until ``release``.
"""

import re
import threading
import time
from collections import deque
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytz

from .http_fake import FakeHttpService

CALLS_PATH = re.compile(r"^/calls-service/RestAPI/(?P<site>[^/]+)/calls-diary/calls/?$")
DOWNLOAD_PATH = re.compile(
    r"^/calls-service/RestAPI/(?P<site>[^/]+)/calls-diary/calls/(?P<id>\d+)/download/?$"
)
NODE_PATH = re.compile(r"^/calls-service/RestAPI/(?P<site>[^/]+)/getnodeid/?$")
REQUESTS_PATH = "/calls-service/RestAPI/requests"
CALLS_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")
MAX_LIMIT = 1000
MAX_DAYS = 90


def _utc(moment):
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def make_call(call_id, when, caller, tz="Europe/Moscow", **values):
    """A calls-diary record at UTC ``when`` from ``caller`` (digits)."""
    moment = _utc(when)
    local = moment.astimezone(pytz.timezone(tz))
    record = {
        "callId": call_id,
        "callphase": "calldisconnected",
        "date": local.strftime("%d/%m/%Y %H:%M:%S"),
        "timestamp": int(moment.timestamp()),
        "duration": 95,
        "waitingConnect": 8,
        "callerNumber": caller,
        "phoneNumber": "74951234500",
        "redirectNumber": "74997770011",
        "successful": True,
        "uniqueCall": True,
        "targetCall": True,
        "uniqTargetCall": True,
        "callbackCall": False,
        "source": "yandex",
        "medium": "cpc",
        "keyword": "стоматология рядом",
        "utmSource": "yandex",
        "utmMedium": "cpc",
        "utmCampaign": "implants_msk",
        "utmContent": "ad_17",
        "utmTerm": "имплантация зубов",
        "url": "https://clinic.example/implants?utm_source=yandex",
        "callUrl": "https://clinic.example/contacts",
        "hostname": "clinic.example",
        "callTags": [
            {"category": "Категория", "type": "MANUAL", "names": ["Первичный пациент"]}
        ],
        "comments": [],
        "additionalTags": [],
    }
    record.update(values)
    return record


def make_request(request_id, when, phone, fio, tz="Europe/Moscow", **values):
    """A requests-journal record at UTC ``when``."""
    moment = _utc(when)
    local = moment.astimezone(pytz.timezone(tz))
    record = {
        "requestId": request_id,
        "requestNumber": f"WEB-{request_id}",
        "requestType": "request",
        "subject": "Запись на консультацию",
        "date": int(moment.timestamp() * 1000),
        "dateStr": local.strftime("%d/%m/%Y %H:%M:%S"),
        "status": "",
        "uniqueRequest": True,
        "targetRequest": True,
        "uniqTargetRequest": True,
        "manager": "",
        "requestUrl": "https://clinic.example/booking",
        "siteId": 67120,
        "client": {
            "clientId": 77341209,
            "fio": fio,
            "phones": [{"phoneNumber": phone, "phoneType": "PHONE"}] if phone else [],
            "contacts": [],
        },
        "session": {
            "sessionId": 991240011,
            "city": "Москва",
            "source": "google",
            "medium": "organic",
            "url": "https://clinic.example/",
            "utmSource": "<не указано>",
            "utmMedium": "<не указано>",
            "utmCampaign": "<не указано>",
            "utmContent": "<не указано>",
            "utmTerm": "<не указано>",
        },
        "comments": [],
        "orders": [],
        "RequestTags": [
            {"category": "Тип обращения", "type": "MANUAL", "names": ["Консультация"]}
        ],
    }
    record.update(values)
    return record


class CalltouchServer(FakeHttpService):
    """``start()`` it, point the settings at ``call_url``/``request_url``."""

    protocol_version = "HTTP/1.0"

    def __init__(self, site_id="67120", token="ct-token", tz="Europe/Moscow"):
        super().__init__()
        self.site_id = str(site_id)
        self.token = token
        self.tz = pytz.timezone(tz)
        self.rate_limit = 5  # requests per second, as Calltouch allows
        self.reset()

    def reset(self):
        self.calls = []  # (UTC datetime, raw record)
        self._days = None
        self.requests = []  # (UTC datetime, raw record)
        self.legacy_calls = False
        self.faults = []  # (endpoint or None, {"status", "retry_after", "delay"})
        self.log = []  # {"endpoint", "params", "status", "at"}
        self._recent = deque()
        self._lock = threading.Lock()

    # --- fixtures --------------------------------------------------------
    def add_call(self, raw, when=None):
        when = when or self._when(raw.get("timestamp"), 1)
        self.calls.append((when, raw))
        self._days = None

    def add_request(self, raw, when=None):
        self.requests.append((when or self._when(raw.get("date"), 1000), raw))

    def _calls_by_day(self):
        """[(local day, raw)] sorted by time; kept until a call is added."""
        if self._days is None:
            self._days = [
                (self._local_day(when), raw)
                for when, raw in sorted(self.calls, key=lambda item: item[0])
            ]
        return self._days

    @staticmethod
    def _when(epoch, scale):
        return datetime.fromtimestamp(float(epoch) / scale, timezone.utc).replace(
            tzinfo=None
        )

    def fail_next(self, endpoint=None, status=None, retry_after=None, delay=None):
        """The next request to ``endpoint`` ("calls", "requests" or any) is
        answered with ``status`` (and ``Retry-After``), after ``delay`` s."""
        self.faults.append(
            (endpoint, {"status": status, "retry_after": retry_after, "delay": delay})
        )

    def requests_to(self, endpoint):
        return [entry for entry in self.log if entry["endpoint"] == endpoint]

    @property
    def url(self):
        return self.base_url

    @property
    def call_url(self):
        return self.url + "/calls-service/RestAPI/{siteId}/calls-diary/calls"

    @property
    def request_url(self):
        return self.url + REQUESTS_PATH

    # --- answering -------------------------------------------------------
    def handle(self, handler, method):
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path
        if CALLS_PATH.match(path):
            endpoint = "calls"
        elif path.rstrip("/") == REQUESTS_PATH:
            endpoint = "requests"
        elif DOWNLOAD_PATH.match(path):
            endpoint = "download"
        elif NODE_PATH.match(path):
            endpoint = "node"
        else:
            endpoint = None
        entry = {"endpoint": endpoint, "params": params, "at": time.monotonic()}
        with self._lock:
            self.log.append(entry)
        self.wait_until_released()
        with self._lock:
            fault = self._take_fault(endpoint)
            limited = self._over_rate_limit(entry["at"])
        status, body, headers = self._answer(endpoint, path, params, fault, limited)
        entry["status"] = status
        self.send(handler, status, body, headers, "audio/wav")

    def _take_fault(self, endpoint):
        for index, (wanted, fault) in enumerate(self.faults):
            if wanted in (None, endpoint):
                del self.faults[index]
                return fault
        return None

    def _over_rate_limit(self, now):
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        self._recent.append(now)
        return len(self._recent) > self.rate_limit

    def _answer(self, endpoint, path, params, fault, limited):
        if fault and fault.get("delay"):
            time.sleep(fault["delay"])
        if fault and fault.get("status"):
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            return fault["status"], {"error": "injected failure"}, headers
        if limited:
            return 429, {"error": "Too many requests"}, {"Retry-After": "1"}
        if endpoint is None:
            return 404, {"error": "Not found"}, {}
        if params.get("clientApiId") != self.token:
            return 401, {"error": "Invalid clientApiId"}, {}
        if endpoint == "calls":
            return self._calls(CALLS_PATH.match(path)["site"], params)
        if endpoint == "requests":
            return self._requests(params)
        if endpoint == "node":
            return 200, {"nodeId": 1}, {}
        found = DOWNLOAD_PATH.match(path)
        wanted = int(found["id"])
        if any(raw.get("callId") == wanted for _w, raw in self.calls):
            return 200, b"RIFF\x24\x00\x00\x00WAVEfmt ", {}
        return 404, {"error": "No record"}, {}

    def _local_day(self, moment):
        return pytz.utc.localize(moment).astimezone(self.tz).date()

    @staticmethod
    def _parse_day(value, order):
        if not isinstance(value, str) or not CALLS_DATE.match(value):
            return None
        try:
            return datetime.strptime(value, order).date()
        except ValueError:
            return None

    def _calls(self, site, params):
        if site != self.site_id:
            return 403, {"error": "No rights on this site"}, {}
        first = self._parse_day(params.get("dateFrom"), "%d/%m/%Y")
        last = self._parse_day(params.get("dateTo"), "%d/%m/%Y")
        if not first or not last:
            return 400, {"error": "dateFrom and dateTo must be dd/mm/yyyy"}, {}
        if first > last:
            return 400, {"error": "dateFrom is after dateTo"}, {}
        if (last - first).days >= MAX_DAYS:
            return 400, {"error": f"at most {MAX_DAYS} days per request"}, {}
        with_tags = params.get("withCallTags") == "true"
        records = [raw for day, raw in self._calls_by_day() if first <= day <= last]
        paged = "page" in params or "limit" in params
        if not paged and first != last and not self.legacy_calls:
            return 400, {"error": "without paging, one day only"}, {}
        if self.legacy_calls or not paged:
            return 200, self._strip(records, "callTags", with_tags), {}
        try:
            page = int(params.get("page", 1))
            limit = int(params.get("limit", MAX_LIMIT))
        except ValueError:
            return 400, {"error": "page and limit must be numbers"}, {}
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            return 400, {"error": f"page >= 1 and 1 <= limit <= {MAX_LIMIT}"}, {}
        total_pages = max(1, -(-len(records) // limit))
        chunk = records[(page - 1) * limit : page * limit]
        chunk = self._strip(chunk, "callTags", with_tags)
        return (
            200,
            {
                "page": page,
                "pageTotal": total_pages,
                "pageSize": limit,
                "recordsTotal": len(records),
                "records": chunk,
            },
            {},
        )

    def _requests(self, params):
        if not params.get("siteId"):
            return 400, {"error": "siteId is required"}, {}
        if params["siteId"] != self.site_id:
            return 403, {"error": "No rights on this site"}, {}
        first = self._parse_day(params.get("dateFrom"), "%m/%d/%Y")
        last = self._parse_day(params.get("dateTo"), "%m/%d/%Y")
        if not first or not last:
            return 400, {"error": "dateFrom and dateTo must be mm/dd/yyyy"}, {}
        times = []
        for key, default in (("timeFrom", "00:00:00"), ("timeTo", "23:59:59")):
            value = params.get(key, default)
            if not TIME.match(value):
                return 400, {"error": f"{key} must be hh:mm:ss"}, {}
            times.append(datetime.strptime(value, "%H:%M:%S").time())
        begin = datetime.combine(first, times[0])
        end = datetime.combine(last, times[1])
        if begin > end:
            return 400, {"error": "dateFrom is after dateTo"}, {}
        with_tags = params.get("withRequestTags") == "true"
        records = []
        for when, raw in sorted(self.requests, key=lambda item: item[0]):
            local = pytz.utc.localize(when).astimezone(self.tz).replace(tzinfo=None)
            if begin <= local.replace(microsecond=0) <= end:
                records.append(raw)
        return 200, self._strip(records, "RequestTags", with_tags), {}

    @staticmethod
    def _strip(records, tags_key, with_tags):
        """The records, without their tags unless they were asked for."""
        if with_tags:
            return records
        return [{k: v for k, v in raw.items() if k != tags_key} for raw in records]
