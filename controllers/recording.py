import logging
import re

import requests
from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

_logger = logging.getLogger(__name__)

# re.ASCII: other scripts' digits are not byte offsets.
RANGE_PATTERN = re.compile(r"bytes=(\d{0,18})-(\d{0,18})", re.ASCII)
# Whatever the upstream sent, the browser gets an inert file: no script or
# style may run from it, and it is never sniffed into HTML.
SAFE_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; sandbox"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "private, no-store"),
]


def requested_range():
    """(Range header to send upstream, whether the request starts a play).

    Only one plain byte range is passed on, rewritten from its numbers. A
    play is a request from the first byte, for the end of the file (a suffix
    range), or without a usable range (the whole file): however a player or
    a client spells it, each of these is logged.
    """
    byte_range = request.httprequest.headers.get("Range") or ""
    match = RANGE_PATTERN.fullmatch(byte_range.strip())
    if not match or match.groups() == ("", ""):
        return None, True
    first, last = match.groups()
    if not first:
        return "bytes=-%d" % int(last), True
    if not last:
        return "bytes=%d-" % int(first), int(first) == 0
    if int(last) < int(first):
        return None, True
    return "bytes=%d-%d" % (int(first), int(last)), int(first) == 0


def stream_recording(call, byte_range):
    """Response streaming ``call``'s recording from its PBX (404 without one).

    ``call`` must already be allowed to the requester; it is read with sudo,
    so the PBX's URL and credentials never leave the server.
    """
    # sudo: both routes checked the requester first (recordings group and read access,
    #   or a valid signed link); the PBX's URL and credentials stay on the server
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
        the start of the file, or for its end) is written to the call's
        listening log.
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
        byte_range, play = requested_range()
        response = stream_recording(call, byte_range)
        if play:
            # sudo: the listening log is system-only; this row logs the current user's
            #   own play of a call whose read access was checked above
            env["pbx.recording.listen"].sudo().create(
                {"call_id": call.id, "user_id": env.uid, "byte_range": byte_range}
            )
        return response
