import logging
import re

import requests
from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

_logger = logging.getLogger(__name__)

RANGE_PATTERN = re.compile(r"^bytes=(\d*)-(\d*)$")
# Whatever the upstream sent, the browser gets an inert file: no script or
# style may run from it, and it is never sniffed into HTML.
SAFE_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; sandbox"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "private, no-store"),
]


def requested_range():
    """The request's Range header when it is a plain byte range, else None."""
    byte_range = request.httprequest.headers.get("Range")
    if byte_range and RANGE_PATTERN.match(byte_range.strip()):
        return byte_range.strip()
    return None


def stream_recording(call, byte_range):
    """Response streaming ``call``'s recording from its PBX (404 without one).

    ``call`` must already be allowed to the requester; it is read with sudo,
    so the PBX's URL and credentials never leave the server.
    """
    upstream = call.sudo()._open_recording(byte_range)
    if upstream is None:
        raise NotFound()
    headers = [
        ("Content-Type", upstream.content_type),
        (
            "Content-Disposition",
            f'inline; filename="call-{call.id}.{upstream.extension}"',
        ),
        *SAFE_HEADERS,
        *upstream.headers.items(),
    ]
    call_id = call.id

    def body():
        try:
            yield from upstream.chunks()
        except requests.RequestException as error:
            _logger.warning(
                "Recording of call %s broke off: %s", call_id, type(error).__name__
            )

    return request.make_response(body(), headers=headers, status=upstream.status)


class PbxRecordingController(http.Controller):
    @http.route(
        "/pbx/recording/<int:call_id>", type="http", auth="user", methods=["GET"]
    )
    def pbx_recording(self, call_id, **_kwargs):
        """Stream a call's recording from the PBX to a user who may hear it.

        The PBX's URL and credentials stay on the server; the browser's Range
        header is passed on so the player can seek. Each play (a request from
        the start of the file) is written to the call's listening log.
        """
        env = request.env
        if not env.user.has_group("clinic_pbx.clinic_pbx_group_recordings"):
            raise Forbidden()
        call = env["pbx.call"].browse(call_id)
        if not call.exists():
            raise NotFound()
        try:
            call.check_access("read")
        except AccessError as error:
            raise Forbidden() from error
        byte_range = requested_range()
        response = stream_recording(call, byte_range)
        if not byte_range or byte_range.startswith("bytes=0-"):
            env["pbx.recording.listen"].sudo().create(
                {"call_id": call.id, "user_id": env.uid, "byte_range": byte_range}
            )
        return response
