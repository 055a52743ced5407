"""A TCP proxy on 127.0.0.1 that fails the way a network or a server does.

Put it between Odoo and a real server (the shared MariaDB) instead of
stopping that server: ``down()`` closes its listening socket (new
connections are refused) and every open connection, ``up()`` listens again
on the same port, ``cut_after(n)`` closes the connections it opens from now
on once ``n`` bytes of the server's answers went through (a connection
dropped in the middle of a result), ``hold()`` stops passing the server's
answers on until ``release()`` (a server that is slow to answer).
"""

import contextlib
import socket
import threading

CHUNK = 4096


class TcpProxy:
    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = None
        self._listener = None
        self._connections = []
        self._cut_after = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self.accepted = 0  # connections accepted (and passed on) so far
        self.cuts = 0  # connections cut by cut_after
        self.answered = 0  # bytes passed from the server to the clients

    # -- control -------------------------------------------------------------
    def start(self):
        return self.up()

    @property
    def listening(self):
        return self._listener is not None

    def up(self):
        if self.listening:
            return self
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def down(self):
        """Refuse new connections and drop the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() wakes the thread blocked in accept()
        with self._lock:
            connections, self._connections = self._connections, []
        for sock in connections:
            _close(sock)

    stop = down

    def cut_after(self, size):
        """Cut each new connection once ``size`` bytes came from the server
        (``None``: never)."""
        self._cut_after = size

    def hold(self):
        self._flowing.clear()

    def release(self):
        self._flowing.set()

    # -- forwarding ------------------------------------------------------------
    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._connections += [client, server]
                self.accepted += 1
            limit = self._cut_after
            threading.Thread(
                target=self._pump, args=(client, server, False, None), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, True, limit), daemon=True
            ).start()

    def _pump(self, source, sink, answers, limit):
        """Copy ``source`` to ``sink``; the server's ``answers`` wait while
        the proxy holds them and stop after ``limit`` bytes."""
        passed = 0
        # A side closed by the other pump or by down() ends the copy.
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                if answers:
                    self._flowing.wait(60)
                if limit is not None and passed + len(data) >= limit:
                    sink.sendall(data[: limit - passed])
                    self.cuts += 1
                    break
                sink.sendall(data)
                passed += len(data)
                if answers:
                    self.answered += len(data)
        _close(source)
        _close(sink)


def _close(sock):
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
