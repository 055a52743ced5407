import logging

import requests

from odoo import models

_logger = logging.getLogger(__name__)

RECORDING_TIMEOUT = 20  # seconds to connect, and between bytes


class PbxCall(models.Model):
    _inherit = "pbx.call"

    def _open_recording(self, byte_range=None):
        """Open the PBX's recording of this call as a streamed HTTP response.

        Returns None when there is no recording or the PBX does not serve it.
        Credentials come from the call's PBX connection; neither they nor the
        URL are logged.
        """
        self.ensure_one()
        url = self.sudo().recording_url
        if not url:
            return None
        connection = self.connection_id.sudo()
        auth = None
        if connection.recordings_username:
            auth = (
                connection.recordings_username,
                connection.recordings_password or "",
            )
        headers = {"Range": byte_range} if byte_range else {}
        try:
            response = requests.get(
                url, headers=headers, auth=auth, stream=True, timeout=RECORDING_TIMEOUT
            )
        except requests.RequestException as error:
            _logger.warning(
                "Recording of call %s could not be fetched: %s",
                self.id,
                type(error).__name__,
            )
            return None
        if response.status_code not in (200, 206, 416):
            _logger.warning(
                "Recording of call %s: the PBX answered HTTP %s",
                self.id,
                response.status_code,
            )
            response.close()
            return None
        return response
