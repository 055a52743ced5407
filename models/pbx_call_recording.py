import logging

import requests

from odoo import models

from ..tools.recording_fetch import RecordingRefused, open_audio

_logger = logging.getLogger(__name__)

RECORDING_TIMEOUT = 20  # seconds to connect, and between bytes


class PbxCall(models.Model):
    _inherit = "pbx.call"

    def _open_recording(self, byte_range=None):
        """Open the PBX's recording of this call (a recording_fetch.AudioResponse).

        Returns None when there is no recording, when its URL is not one Odoo
        fetches, or when the answer is not audio. A recording URL comes from
        the PBX, or from whoever holds its API token, and may point anywhere:
        with a Recordings URL on the connection (set by an administrator) only
        URLs under it are fetched, with the connection's credentials; without
        one, only URLs on public addresses, without credentials. Neither the
        URL nor the credentials are logged.
        """
        self.ensure_one()
        # sudo: recording_url is admin-only; the callers (controllers/recording.py)
        #   checked the requester first and never return it
        url = self.sudo().recording_url
        if not url:
            return None
        # sudo: the recordings login is admin-only; it is sent only to the connection's
        #   own recordings server
        connection = self.connection_id.sudo()
        auth = None
        if connection.recordings_username:
            auth = (
                connection.recordings_username,
                connection.recordings_password or "",
            )
        try:
            return open_audio(
                url,
                base_url=connection.recordings_base_url or None,
                auth=auth,
                byte_range=byte_range,
                timeout=RECORDING_TIMEOUT,
            )
        except RecordingRefused as error:
            _logger.warning("Recording of call %s not fetched: %s", self.id, error)
        except requests.RequestException as error:
            _logger.warning(
                "Recording of call %s could not be fetched: %s",
                self.id,
                type(error).__name__,
            )
        return None
