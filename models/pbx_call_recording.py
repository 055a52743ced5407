import logging
from urllib.parse import urlsplit

import requests

from odoo import models

_logger = logging.getLogger(__name__)

RECORDING_TIMEOUT = 20  # seconds to connect, and between bytes
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url):
    """(scheme, host, port) of ``url``, or None when it has no host."""
    try:
        parts = urlsplit(url or "")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


class PbxCall(models.Model):
    _inherit = "pbx.call"

    def _open_recording(self, byte_range=None):
        """Open the PBX's recording of this call as a streamed HTTP response.

        Returns None when there is no recording or the PBX does not serve it.
        Credentials come from the call's PBX connection and go only to the
        server of its Recordings URL: a recording URL the PBX (or whoever
        holds its API token) sent may point anywhere. Neither they nor the
        URL are logged.
        """
        self.ensure_one()
        url = self.sudo().recording_url
        if not url:
            return None
        connection = self.connection_id.sudo()
        auth = None
        if (
            connection.recordings_username
            and origin(url)
            and origin(url) == origin(connection.recordings_base_url)
        ):
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
