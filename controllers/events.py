import json
import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..tools.call_events import MAX_BODY_BYTES, validate_batch

_logger = logging.getLogger(__name__)

# Replays of a batch that met another request writing the same calls, before
# Odoo's own retries (which wait between tries) take over.
IMMEDIATE_REPLAYS = 8


def _answer(payload, status, headers=None):
    return request.make_json_response(payload, headers=headers, status=status)


class PbxEventController(http.Controller):
    """Event API v1: the PBX posts its call events here (see docs/event-api.md)."""

    @http.route(
        "/pbx/v1/events",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def pbx_events(self, **_kwargs):
        httprequest = request.httprequest
        auth = httprequest.headers.get("Authorization", "")
        scheme, _sep, token = auth.partition(" ")
        connection = request.env["pbx.connection"].browse()
        if scheme.lower() == "bearer":
            connection = request.env["pbx.connection"]._authenticate_token(
                token.strip()
            )
        if not connection:
            return _answer(
                {"error": "missing or wrong API token"},
                401,
                [("WWW-Authenticate", 'Bearer realm="pbx"')],
            )
        if httprequest.mimetype != "application/json":
            return _answer({"error": "the body must be application/json"}, 415)
        length = httprequest.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return _answer(
                {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, 413
            )
        httprequest.max_content_length = MAX_BODY_BYTES
        try:
            # cached: Odoo replays the request after a serialization failure
            data = httprequest.get_data()
        except RequestEntityTooLarge:
            data = None
        if data is None or len(data) > MAX_BODY_BYTES:
            return _answer(
                {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, 413
            )
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _answer({"error": "the body is not valid JSON"}, 400)
        events, errors = validate_batch(body)
        if errors:
            return _answer(
                {
                    "error": "invalid events; nothing was written",
                    "details": [error.as_dict() for error in errors[:100]],
                },
                400,
            )
        accepted, duplicates = self._ingest(connection, events)
        return _answer({"accepted": accepted, "duplicates": duplicates}, 200)

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
