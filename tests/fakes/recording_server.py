"""A PBX's recording server on loopback: WAV files with Range and Basic auth."""

import base64
import io
import re
import wave

from .http_fake import FakeHttpService


def make_wav(seconds=2, rate=8000):
    """A small valid WAV file (silence with a ramp, so bytes differ)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join((i % 256).to_bytes(2, "little") for i in range(seconds * rate))
        )
    return buffer.getvalue()


class RecordingServer(FakeHttpService):
    """Serves ``files`` ({path: bytes}) like FreePBX's monitor directory.

    ``requests`` records (path, Range header, Authorization header) of every
    request, and ``hosts`` their Host headers, so tests can check what Odoo
    asked for. ``types`` ({path: Content-Type}, None to send none) and
    ``redirects`` ({path: URL}, answered 302) let a test play a hostile server.
    """

    protocol_version = "HTTP/1.0"

    def __init__(self, files, username=None, password=None, types=None, redirects=None):
        super().__init__()
        self.files = files
        self.username = username
        self.password = password
        self.types = types or {}
        self.redirects = redirects or {}
        self.requests = []
        self.hosts = []

    @property
    def url(self):
        return self.base_url

    def handle(self, handler, method):
        self.requests.append(
            (
                handler.path,
                handler.headers.get("Range"),
                handler.headers.get("Authorization"),
            )
        )
        self.hosts.append(handler.headers.get("Host"))
        if handler.path in self.redirects:
            self.send(handler, 302, b"", {"Location": self.redirects[handler.path]})
            return
        if self.username is not None:
            expected = (
                "Basic "
                + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            )
            if handler.headers.get("Authorization") != expected:
                self.send(
                    handler, 401, b"", {"WWW-Authenticate": 'Basic realm="monitor"'}
                )
                return
        body = self.files.get(handler.path)
        if body is None:
            self.send(handler, 404, b"")
            return
        headers = {"Accept-Ranges": "bytes"}
        match = re.match(r"bytes=(\d*)-(\d*)$", handler.headers.get("Range") or "")
        if match:
            if match.group(1):
                first = int(match.group(1))
                last = int(match.group(2) or len(body) - 1)
            else:  # a suffix range: the last N bytes
                first = max(0, len(body) - int(match.group(2) or 0))
                last = len(body) - 1
            last = min(last, len(body) - 1)
            if first > last:
                self.send(handler, 416, b"", {"Content-Range": f"bytes */{len(body)}"})
                return
            status, chunk = 206, body[first : last + 1]
            headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        else:
            status, chunk = 200, body
        self.send(
            handler, status, chunk, headers, self.types.get(handler.path, "audio/wav")
        )
