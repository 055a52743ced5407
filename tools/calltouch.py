"""Calltouch's wire format, kept in one place.

Plain Python, no ORM. ``CalltouchClient`` (a ``http_service.ServiceClient``)
reads the calls diary and the requests (web leads) journal and hands back
plain dicts made by ``parse_call`` / ``parse_request``. What the API looks
like (see docs/calltouch.md):

- calls diary: ``GET {call_url}?clientApiId&dateFrom&dateTo&page&limit``,
  dates **dd/mm/yyyy**, ``{siteId}`` in the path, pages of at most 1,000;
  the answer is an envelope ``{page, pageTotal, records}`` or, from older
  deployments, a bare array;
- requests journal: ``GET {request_url}?clientApiId&siteId&dateFrom&dateTo
  &timeFrom&timeTo``, dates **mm/dd/yyyy**, times hh:mm:ss, a bare array;
- dates in queries are days of the account's time zone; records carry UTC
  epoch times (``timestamp`` in seconds for calls, ``date`` in milliseconds
  for requests);
- at most 5 requests per second; the token travels as a query parameter, so
  it is named as a secret everywhere a URL may be written down.
"""

import logging
import re
import time
from datetime import datetime, timedelta, timezone

import pytz

from .http_service import ServiceClient, ServiceError, Timeout

_logger = logging.getLogger(__name__)

DEFAULT_CALL_URL = (
    "https://api.calltouch.ru/calls-service/RestAPI/{siteId}/calls-diary/calls"
)
DEFAULT_REQUEST_URL = "https://api.calltouch.ru/calls-service/RestAPI/requests"
DEFAULT_TIMEZONE = "Europe/Moscow"
TOKEN_PARAM = "clientApiId"
PAGE_SIZE = 1000  # the largest page Calltouch serves
CALLS_MAX_DAYS = 90  # longest dateFrom..dateTo range asked in one go
MAX_PAGES = 1000  # a safety stop against a server that never says "last page"
MIN_INTERVAL = 0.2  # seconds between requests: Calltouch allows 5 per second

CALLS_DATE = "%d/%m/%Y"
REQUESTS_DATE = "%m/%d/%Y"
RECORD_DATE = "%d/%m/%Y %H:%M:%S"

# Values trackers put into source/medium/campaign when there is nothing.
PLACEHOLDERS = frozenset(
    {
        "<не указано>",
        "<не заполнено>",
        "не указано",
        "(not set)",
        "(not provided)",
        "(none)",
        "(direct)",
        "(undefined)",
        "undefined",
        "null",
        "none",
        "-",
    }
)
MAX_TEXT = 256
MAX_URL = 2048


class BadRecord(ValueError):
    """A record that cannot be imported; the message says why."""


# ----------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------


def clean_text(value, limit=MAX_TEXT):
    """Stripped text, or None for empty values, non-strings and placeholders."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or text.lower() in PLACEHOLDERS:
        return None
    return text[:limit]


def clean_url(value):
    text = clean_text(value, MAX_URL)
    return text if text and text.startswith(("http://", "https://")) else None


def caller_number(value):
    """A caller's number as Calltouch gives it, ready for ``phone_key``.

    Calltouch writes numbers as international digits without "+"
    (``79161234567``); a Russian trunk form (``8916…``) and short national
    numbers are left for ``phone_key`` and the account's country to resolve.
    """
    text = clean_text(value, 64)
    if not text:
        return None
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    if text.startswith("+"):
        return "+" + digits
    if len(digits) >= 11 and not digits.startswith(("8", "0")):
        return "+" + digits
    return digits


def _record_id(raw, key):
    value = raw.get(key)
    if isinstance(value, bool) or value in (None, ""):
        raise BadRecord(f"no {key}")
    text = str(value).strip()
    if not text.isdigit() or len(text) > 30:
        raise BadRecord(f"{key} {text[:40]!r} is not a Calltouch id")
    return text


def _flag(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _seconds(value):
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(seconds, 7 * 24 * 3600))


def _epoch(value, scale=1):
    """UTC naive datetime of an epoch number (``scale`` 1000 for milliseconds)."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        seconds = float(value) / scale
    except (TypeError, ValueError):
        return None
    if not 946684800 <= seconds <= 4102444800:  # years 2000..2100
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def _local_string(value, tz):
    """UTC naive datetime of a ``dd/mm/yyyy HH:MM:SS`` string in ``tz``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip(), RECORD_DATE)
    except ValueError:
        return None
    return tz.localize(moment).astimezone(pytz.utc).replace(tzinfo=None)


def _tag_names(items):
    """Names of Calltouch tags ``[{category, type, names: [...]}]``."""
    names = []
    if not isinstance(items, list):
        return names
    for item in items:
        values = item.get("names") if isinstance(item, dict) else None
        if isinstance(values, str):
            values = [values]
        for value in values if isinstance(values, list) else ():
            name = clean_text(value, 64)
            if name and name not in names:
                names.append(name)
    return names


def _utm(block):
    """source, medium, campaign, keyword of a call or a request session.

    The utm tags win over Calltouch's own source/medium; placeholders such
    as "<не указано>" count as nothing.
    """
    return {
        "source": clean_text(block.get("utmSource")) or clean_text(block.get("source")),
        "medium": clean_text(block.get("utmMedium")) or clean_text(block.get("medium")),
        "campaign": clean_text(block.get("utmCampaign")),
        "keyword": clean_text(block.get("utmTerm"))
        or clean_text(block.get("keyword"))
        or clean_text(block.get("keywords")),
    }


def parse_call(raw, tz):
    """A calls-diary record as a plain dict; raises BadRecord."""
    if not isinstance(raw, dict):
        raise BadRecord("a call record is not an object")
    call_id = _record_id(raw, "callId")
    moment = _epoch(raw.get("timestamp")) or _local_string(raw.get("date"), tz)
    if moment is None:
        raise BadRecord(f"call {call_id}: no usable timestamp or date")
    values = {
        "call_id": call_id,
        "date": moment,
        "phone": caller_number(raw.get("callerNumber")),
        "tracking_number": clean_text(raw.get("phoneNumber"), 64),
        "duration": _seconds(raw.get("duration")),
        "successful": _flag(raw.get("successful")),
        "is_unique": _flag(raw.get("uniqueCall")),
        "is_target": _flag(raw.get("targetCall")),
        "landing_page": clean_url(raw.get("url")) or clean_url(raw.get("callUrl")),
        "tags": _tag_names(raw.get("callTags")),
    }
    values.update(_utm(raw))
    return values


def _items(value, request_id, what):
    """The list a request record holds under ``what`` (nothing for an empty
    value of any type); raises BadRecord for anything else but a list."""
    if not value:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"request {request_id}: {what} is not a list")
    return value


def parse_request(raw, tz):
    """A requests-journal record as a plain dict; raises BadRecord."""
    if not isinstance(raw, dict):
        raise BadRecord("a request record is not an object")
    request_id = _record_id(raw, "requestId")
    moment = _epoch(raw.get("date"), scale=1000) or _local_string(
        raw.get("dateStr"), tz
    )
    if moment is None:
        raise BadRecord(f"request {request_id}: no usable date or dateStr")
    client = raw.get("client") if isinstance(raw.get("client"), dict) else {}
    session = raw.get("session") if isinstance(raw.get("session"), dict) else {}
    phones = []
    for item in _items(client.get("phones"), request_id, "client.phones"):
        number = (
            caller_number(item.get("phoneNumber")) if isinstance(item, dict) else None
        )
        if number and number not in phones:
            phones.append(number)
    email = None
    for item in _items(client.get("contacts"), request_id, "client.contacts"):
        if isinstance(item, dict) and str(item.get("contactType", "")).upper() == (
            "EMAIL"
        ):
            value = clean_text(item.get("contactValue"), 240)
            if value and "@" in value:
                email = value
                break
    comments = []
    for item in _items(raw.get("comments"), request_id, "comments"):
        text = clean_text(item.get("comment"), 2000) if isinstance(item, dict) else None
        if text:
            comments.append(text)
    values = {
        "request_id": request_id,
        "date": moment,
        "name": clean_text(client.get("fio")),
        "phones": phones,
        "phone": phones[0] if phones else None,
        "email": email,
        "subject": clean_text(raw.get("subject")),
        "form_url": clean_url(raw.get("requestUrl")),
        "landing_page": clean_url(session.get("url"))
        or clean_url(raw.get("requestUrl")),
        "is_unique": _flag(raw.get("uniqueRequest")),
        "is_target": _flag(raw.get("targetRequest")),
        "comments": comments,
        "tags": _tag_names(raw.get("RequestTags")),
    }
    values.update(_utm(session))
    return values


# ----------------------------------------------------------------------------
# Windows and query parameters
# ----------------------------------------------------------------------------


def local_days(start, end, tz):
    """Days of ``tz`` covering the UTC window [start, end]: [(day, from, to)].

    ``from``/``to`` are the local times of the window inside that day.
    """
    first = pytz.utc.localize(start).astimezone(tz).replace(tzinfo=None)
    last = pytz.utc.localize(end).astimezone(tz).replace(tzinfo=None)
    days = []
    day = first.date()
    while day <= last.date():
        begin = first.time() if day == first.date() else datetime.min.time()
        finish = last.time() if day == last.date() else datetime.max.time()
        days.append((day, begin.replace(microsecond=0), finish.replace(microsecond=0)))
        day += timedelta(days=1)
    return days


def day_ranges(days, size=CALLS_MAX_DAYS):
    """Consecutive (first, last) day ranges of at most ``size`` days."""
    ranges = []
    for index in range(0, len(days), size):
        chunk = days[index : index + size]
        ranges.append((chunk[0], chunk[-1]))
    return ranges


def calls_params(first, last, page, limit=PAGE_SIZE, tags=True):
    params = {
        "dateFrom": first.strftime(CALLS_DATE),
        "dateTo": last.strftime(CALLS_DATE),
        "page": page,
        "limit": min(limit, PAGE_SIZE),
    }
    if tags:
        params["withCallTags"] = "true"
    return params


def requests_params(site_id, day, time_from, time_to, tags=True):
    params = {
        "siteId": site_id,
        "dateFrom": day.strftime(REQUESTS_DATE),
        "dateTo": day.strftime(REQUESTS_DATE),
        "timeFrom": time_from.strftime("%H:%M:%S"),
        "timeTo": time_to.strftime("%H:%M:%S"),
    }
    if tags:
        params["withRequestTags"] = "true"
    return params


def calls_url(template, site_id):
    """The calls-diary URL with the site id put into its ``{siteId}`` slot."""
    return (template or "").strip().replace("{siteId}", str(site_id).strip())


def page_records(body, page):
    """(records, last page number or None) of one calls-diary answer."""
    if isinstance(body, list):
        return body, None  # a bare array is the whole answer
    if not isinstance(body, dict):
        raise ServiceError(f"page {page}: the answer is neither a list nor an object")
    records = body.get("records")
    if records is None:
        records = body.get("items", body.get("data"))
    if not isinstance(records, list):
        raise ServiceError(f"page {page}: the answer has no list of records")
    try:
        total = int(body.get("pageTotal"))
    except (TypeError, ValueError):
        total = None
    return records, total


# ----------------------------------------------------------------------------
# The client
# ----------------------------------------------------------------------------


class CalltouchClient(ServiceClient):
    """Reads one Calltouch account."""

    service = "Calltouch"
    # Seconds to connect and to wait for each read of an answer.
    timeout = Timeout(20, 20)
    min_interval = MIN_INTERVAL
    token_param = TOKEN_PARAM

    def __init__(
        self,
        call_url,
        request_url,
        site_id,
        token,
        tz_name=DEFAULT_TIMEZONE,
        *,
        timeout=None,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        super().__init__(token=token, timeout=timeout, sleep=sleep, clock=clock)
        self.call_url = calls_url(call_url, site_id)
        self.request_url = (request_url or "").strip()
        self.site_id = str(site_id).strip()
        self.tz = pytz.timezone(tz_name or DEFAULT_TIMEZONE)

    def _parse_all(self, raws, parse, what):
        records, skipped = [], []
        for raw in raws:
            try:
                records.append(parse(raw, self.tz))
            except BadRecord as error:
                reason = self._scrub(str(error))
                _logger.warning("Calltouch %s skipped: %s", what, reason)
                skipped.append(reason)
        return records, skipped

    def fetch_calls(self, start, end):
        """Calls of the UTC window [start, end]: (records, skipped reasons).

        Whole days of the account's time zone are asked for (the diary takes
        dates only), in ranges of at most CALLS_MAX_DAYS days, page by page.
        """
        raws = []
        for first, last in day_ranges(
            [d for d, _f, _t in local_days(start, end, self.tz)]
        ):
            page = 1
            while True:
                body = self._get(
                    self.call_url,
                    calls_params(first, last, page),
                    f"Calls diary {first:%d/%m/%Y}-{last:%d/%m/%Y}, page {page}",
                )
                records, total = page_records(body, page)
                raws.extend(records)
                if total is None or page >= total or page >= MAX_PAGES or not records:
                    break
                page += 1
        return self._parse_all(raws, parse_call, "call")

    def fetch_requests(self, start, end):
        """Requests of the UTC window [start, end]: (records, skipped reasons).

        One query per local day, so that timeFrom/timeTo mean the same thing
        whether Calltouch applies them to the range or to each day.
        """
        raws = []
        for day, time_from, time_to in local_days(start, end, self.tz):
            body = self._get(
                self.request_url,
                requests_params(self.site_id, day, time_from, time_to),
                f"Requests journal {day:%m/%d/%Y}",
            )
            if not isinstance(body, list):
                raise ServiceError(
                    f"requests of {day.isoformat()}: the answer is not a list"
                )
            raws.extend(body)
        return self._parse_all(raws, parse_request, "request")

    def _today(self):
        return datetime.now(self.tz).date()

    def probe_calls(self):
        """Number of today's calls, asking the diary for a one-record page."""
        day = self._today()
        body = self._get(self.call_url, calls_params(day, day, 1, limit=1, tags=False))
        if isinstance(body, dict) and isinstance(body.get("recordsTotal"), int):
            return body["recordsTotal"]
        return len(page_records(body, 1)[0])

    def probe_requests(self):
        """Number of today's requests."""
        day = self._today()
        body = self._get(
            self.request_url,
            requests_params(
                self.site_id,
                day,
                datetime.min.time(),
                datetime.max.time().replace(microsecond=0),
                tags=False,
            ),
        )
        if not isinstance(body, list):
            raise ServiceError("the requests journal did not answer with a list")
        return len(body)
