"""The base of the local HTTP services the tests talk to (Calltouch,
Callmarker, a PBX's recordings): a threaded server on 127.0.0.1 with a free
port, hand-written answers, and a switch to keep requests waiting.

A subclass answers in ``handle(handler, method)``, where ``handler`` is the
``http.server`` request handler; ``send()`` writes an answer.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up waiting (the timeout tests) closed its socket.
        pass


class FakeHttpService:
    """``start()`` it (or use it as a context manager), then point Odoo at
    ``base_url``; ``stop()`` closes it."""

    # keep-alive, as real services do; no 40 ms stall between head and body
    protocol_version = "HTTP/1.1"

    def __init__(self):
        self._httpd = None
        self._answering = threading.Event()
        self._answering.set()

    # -- control ------------------------------------------------------------
    def start(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = service.protocol_version
            disable_nagle_algorithm = True

            def log_message(self, *args):  # URLs may hold tokens
                pass

            def do_GET(self):
                service.handle(self, "GET")

            def do_POST(self):
                service.handle(self, "POST")

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def hold(self):
        """Keep requests waiting (received, unanswered) until ``release()``."""
        self._answering.clear()

    def release(self):
        self._answering.set()

    def wait_until_released(self, timeout=60):
        self._answering.wait(timeout)

    # -- answering ----------------------------------------------------------
    def handle(self, handler, method):
        raise NotImplementedError

    @staticmethod
    def read_body(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def send(handler, status, body=None, headers=None, content_type=None):
        """Answer ``status`` with ``body``: bytes as they are (with
        ``content_type``, none if None), anything else as JSON."""
        if isinstance(body, bytes):
            data = body
        else:
            data = json.dumps({} if body is None else body).encode()
            content_type = "application/json"
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
