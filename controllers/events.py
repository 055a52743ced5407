import json
import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..tools.call_events import MAX_BODY_BYTES, validate_batch

_logger = logging.getLogger(__name__)


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
        accepted, duplicates, _calls = request.env["pbx.call"]._ingest_events(
            connection, events
        )
        return _answer({"accepted": accepted, "duplicates": duplicates}, 200)
