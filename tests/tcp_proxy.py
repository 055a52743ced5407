"""A TCP proxy for tests that cut a service off and bring it back (a failover)."""

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; ``cut()`` drops every
    connection and refuses new ones, ``restore()`` accepts them again."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.port = None
        self._listener = None
        self._sockets = set()
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pipe, args=(source, target), daemon=True
                ).start()

    def _pipe(self, source, target):
        with contextlib.suppress(OSError):  # a side was cut: close both
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            self._close(sock)

    def _close(self, sock):
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):  # already closed by the other side
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self):
        """Refuse new connections and break the open ones."""
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)

    def restore(self):
        return self.start()

    def stop(self):
        self.cut()
