"""A PBX's recording server on loopback: WAV files with Range and Basic auth."""

import base64
import io
import re
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class RecordingServer:
    """Serves ``files`` ({path: bytes}) like FreePBX's monitor directory.

    ``requests`` records (path, Range header, Authorization header) of every
    request, and ``hosts`` their Host headers, so tests can check what Odoo
    asked for. ``types`` ({path: Content-Type}, None to send none) and
    ``redirects`` ({path: URL}, answered 302) let a test play a hostile server.
    """

    def __init__(self, files, username=None, password=None, types=None, redirects=None):
        self.files = files
        self.types = types or {}
        self.redirects = redirects or {}
        self.requests = []
        self.hosts = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server API)
                server.requests.append(
                    (
                        self.path,
                        self.headers.get("Range"),
                        self.headers.get("Authorization"),
                    )
                )
                server.hosts.append(self.headers.get("Host"))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if username is not None:
                    expected = (
                        "Basic "
                        + base64.b64encode(f"{username}:{password}".encode()).decode()
                    )
                    if self.headers.get("Authorization") != expected:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="monitor"')
                        self.end_headers()
                        return
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                match = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range") or "")
                if match:
                    if match.group(1):
                        first = int(match.group(1))
                        last = int(match.group(2) or len(body) - 1)
                    else:  # a suffix range: the last N bytes
                        first = max(0, len(body) - int(match.group(2) or 0))
                        last = len(body) - 1
                    last = min(last, len(body) - 1)
                    if first > last:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    chunk = body[first : last + 1]
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {first}-{last}/{len(body)}"
                    )
                else:
                    chunk = body
                    self.send_response(200)
                content_type = server.types.get(self.path, "audio/wav")
                if content_type is not None:
                    self.send_header("Content-Type", content_type)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
