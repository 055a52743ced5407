import logging

import requests
from werkzeug.exceptions import Forbidden, NotFound

from odoo import fields, http
from odoo.http import request

from .recording import CHUNK, PASSED_HEADERS, RANGE_PATTERN

_logger = logging.getLogger(__name__)


class CallmarkerRecordingController(http.Controller):
    @http.route(
        "/pbx/callmarker/recording/<int:call_id>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def callmarker_recording(self, call_id, expires=None, signature=None, **_kwargs):
        """Stream one call's recording to Callmarker, which has no Odoo login.

        The link carries an expiry and an HMAC of (call, expiry) made with the
        database secret (see pbx.call._callmarker_recording_link): it opens
        this recording only, until it expires. Everything else is refused
        before the call is even looked up.
        """
        Call = request.env["pbx.call"].sudo()
        if not Call._callmarker_check_recording_link(
            call_id, expires, signature, fields.Datetime.now()
        ):
            raise Forbidden()
        call = Call.browse(call_id).exists()
        if not call:
            raise NotFound()
        byte_range = request.httprequest.headers.get("Range")
        if byte_range and not RANGE_PATTERN.match(byte_range.strip()):
            byte_range = None
        upstream = call._open_recording(byte_range)
        if upstream is None:
            raise NotFound()
        headers = [
            (name, upstream.headers[name])
            for name in PASSED_HEADERS
            if name in upstream.headers
        ]
        if "Content-Type" not in upstream.headers:
            headers.append(("Content-Type", "audio/wav"))
        headers.append(("Cache-Control", "private, no-store"))

        def body():
            try:
                yield from upstream.iter_content(CHUNK)
            except requests.RequestException as error:
                _logger.warning(
                    "Recording of call %s broke off: %s", call_id, type(error).__name__
                )
            finally:
                upstream.close()

        return request.make_response(
            body(), headers=headers, status=upstream.status_code
        )
