"""Event API v1: the PBX posts its call events here (see docs/event-api.md).

Every answer is JSON, errors included: the route has a dispatcher of its own
whose ``handle_error`` Odoo calls for any exception raised while serving it.
Loaded server-wide (``--load=base,web,clinic_pbx``), the route also answers
when the database cannot be reached, so that a relay knows to retry.
"""

import json
import logging

import psycopg2
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from odoo import http
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.sql_db import PoolError

from ..tools.call_events import MAX_BODY_BYTES, validate_batch

_logger = logging.getLogger(__name__)

EVENTS_ROUTE = "/pbx/v1/events"
# Seconds a relay waits before retrying a request answered 503.
RETRY_AFTER_SECONDS = 5
# Replays of a batch that met another request writing the same calls, before
# Odoo's own retries (which wait between tries) take over.
IMMEDIATE_REPLAYS = 8


def json_answer(payload, status, headers=()):
    return request.make_json_response(
        payload, headers=[("Cache-Control", "no-store"), *headers], status=status
    )


def unavailable(reason):
    """503 with Retry-After: nothing was written, the same request may be resent."""
    return json_answer(
        {"error": reason, "retry_after": RETRY_AFTER_SECONDS},
        503,
        [("Retry-After", str(RETRY_AFTER_SECONDS))],
    )


def error_response(exc):
    """The JSON answer for an exception raised while serving the Event API."""
    if isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
        return unavailable("the calls of this batch are busy; retry later")
    if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError | PoolError):
        # The database went away or is overloaded (a failover, a restart).
        return unavailable("the database is unavailable; retry later")
    if isinstance(exc, RequestEntityTooLarge):
        return json_answer(
            {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, 413
        )
    if isinstance(exc, HTTPException) and exc.code:
        return json_answer({"error": exc.name}, exc.code)
    return json_answer({"error": "internal error; no event was written"}, 500)


class PbxEventsDispatcher(http.HttpDispatcher):
    """Plain HTTP dispatching whose error pages are the Event API's JSON."""

    routing_type = "pbx_events"

    def handle_error(self, exc):
        return error_response(exc)


class PbxEventController(http.Controller):
    @http.route(
        EVENTS_ROUTE,
        type="pbx_events",
        auth="none",
        # auth="none" routes are read-only by default: with a read replica,
        # every batch would first fail there and be redone on the primary.
        readonly=False,
        csrf=False,
        save_session=False,
        # One byte more than allowed is read, so that a body without a
        # Content-Length (chunked) can be told too large without reading it.
        max_content_length=MAX_BODY_BYTES + 1,
    )
    def pbx_events(self, **_kwargs):
        httprequest = request.httprequest
        if not request.db:
            return unavailable("the database is unavailable; retry later")
        if httprequest.method != "POST":
            return json_answer({"error": "use POST"}, 405, [("Allow", "POST")])
        # As ir.http's public authentication, without reading the user: the
        # batch is written as superuser (pbx.call._ingest_events).
        public_uid = request.env["ir.model.data"]._xmlid_to_res_id("base.public_user")
        request.update_env(user=public_uid)
        remote = httprequest.remote_addr
        auth = httprequest.headers.get("Authorization", "")
        scheme, _sep, token = auth.partition(" ")
        connection = request.env["pbx.connection"].browse()
        if scheme.lower() == "bearer":
            connection = request.env["pbx.connection"]._authenticate_token(
                token.strip()
            )
        if not connection:
            _logger.warning(
                "Event API: refused a request from %s: missing or wrong API token",
                remote,
            )
            return json_answer(
                {"error": "missing or wrong API token"},
                401,
                [("WWW-Authenticate", 'Bearer realm="pbx"')],
            )

        def refuse(payload, status):
            _logger.warning(
                "Event API: refused a request of PBX connection %s from %s (%s): %s",
                connection.id,
                remote,
                status,
                payload["error"],
            )
            return json_answer(payload, status)

        if httprequest.mimetype != "application/json":
            return refuse({"error": "the body must be application/json"}, 415)
        too_large = {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}
        length = httprequest.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return refuse(too_large, 413)
        try:
            # cached: Odoo replays the request after a serialization failure
            data = httprequest.get_data()
        except RequestEntityTooLarge:
            return refuse(too_large, 413)
        if len(data) > MAX_BODY_BYTES:
            return refuse(too_large, 413)
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return refuse({"error": "the body is not valid JSON"}, 400)
        events, errors = validate_batch(body)
        if errors:
            return refuse(
                {
                    "error": "invalid events; nothing was written",
                    "details": [error.as_dict() for error in errors[:100]],
                },
                400,
            )
        accepted, duplicates = self._ingest(connection, events)
        return json_answer({"accepted": accepted, "duplicates": duplicates}, 200)

    def _ingest(self, connection, events):
        """Write the batch; replay it at once when it met a concurrent writer.

        Requests about the same calls follow each other (pbx.call's
        _lock_external_ids); the one that waited finds its snapshot stale and
        PostgreSQL refuses it with a serialization failure. The other request
        has committed by then, so a replay in a fresh transaction needs no
        pause, unlike Odoo's generic retry, which waits up to seconds.
        """
        env = request.env
        for attempt in range(1, IMMEDIATE_REPLAYS + 1):
            try:
                accepted, duplicates, _calls = env["pbx.call"]._ingest_events(
                    connection, events
                )
                env.flush_all()
                return accepted, duplicates
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                if attempt == IMMEDIATE_REPLAYS:
                    raise
                env.cr.rollback()
                env.reset()
