from werkzeug.exceptions import Forbidden, NotFound

from odoo import fields, http
from odoo.http import request

from .recording import requested_range, stream_recording


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
        # sudo: public route for Callmarker (no login): the signed link (HMAC, expiry,
        #   push nonce) is checked below before any call is read, and opens only that
        #   call
        Call = request.env["pbx.call"].sudo()
        if not Call._callmarker_check_recording_link(
            call_id, expires, signature, fields.Datetime.now()
        ):
            raise Forbidden()
        call = Call.browse(call_id).exists()
        if not call:
            raise NotFound()
        byte_range, _play = requested_range()
        return stream_recording(call, byte_range)
