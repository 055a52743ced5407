"""A fake Asterisk Manager Interface server on 127.0.0.1, over real TCP.

It speaks the documented protocol: the banner, ``Action: Login`` answered
``Response: Success`` or ``Response: Error`` (``Message: Authentication
failed``), ``Ping``, ``Logoff`` (``Response: Goodbye``) and ``Originate``
(``Response: Success`` "Originate successfully queued", then an
``OriginateResponse`` event with ``Response: Success`` or ``Failure``). Once
a session has logged in with an event mask other than ``off``, it is sent
the events given to ``start()`` or ``send()``. ``drop()`` closes every
session (a PBX restarting); ``actions`` keeps every action received.
"""

import contextlib
import socket
import threading

from odoo.addons.clinic_pbx.tools.ami import AmiParser

BANNER = "Asterisk Call Manager/5.0.1"


def _message(fields):
    return ("".join("%s: %s\r\n" % item for item in fields.items()) + "\r\n").encode()


class FakeAmiServer:
    def __init__(self, users=None, originate="Success"):
        self.users = users if users is not None else {"odoo": "s3cret"}
        # Success; a Failure reason (0 not registered, 3 no answer, 5 busy,
        # 8 congestion); or "refuse" (the action itself refused)
        self.originate = originate
        self.actions = []
        self.port = None
        self._listener = None
        self._sessions = []
        self._events = []
        self._lock = threading.Lock()

    def start(self, events=()):
        self._events = list(events)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.drop()

    def drop(self):
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for sock in sessions:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def listening_sessions(self):
        """Sessions logged in and sent events."""
        with self._lock:
            return len(self._sessions)

    def send(self, events):
        """Events to every logged-in session now."""
        with self._lock:
            sessions = list(self._sessions)
        for sock in sessions:
            with contextlib.suppress(OSError):
                sock.sendall(b"".join(_message(event) for event in events))

    def _accept(self):
        while self._listener is not None:
            try:
                sock, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        parser = AmiParser()
        # The parser reads a banner first; a client sends none.
        parser.feed((BANNER + "\r\n").encode())
        sock.sendall((BANNER + "\r\n").encode())
        logged_in = False
        with contextlib.suppress(OSError):
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                for action in parser.feed(data):
                    self.actions.append(action)
                    logged_in = self._answer(sock, action, logged_in)
                    if logged_in is None:
                        sock.close()
                        return

    def _answer(self, sock, action, logged_in):
        name = action.get("Action", "").lower()
        reply = {"ActionID": action.get("ActionID", "")}
        if name == "login":
            if self.users.get(action.get("Username")) != action.get("Secret"):
                sock.sendall(
                    _message(
                        {
                            "Response": "Error",
                            **reply,
                            "Message": "Authentication failed",
                        }
                    )
                )
                return None  # Asterisk closes the session
            listening = action.get("Events", "on").lower() != "off"
            if listening:
                # Registered before the answer: a client that logged in gets
                # whatever send() sends from then on.
                with self._lock:
                    self._sessions.append(sock)
            sock.sendall(
                _message(
                    {
                        "Response": "Success",
                        **reply,
                        "Message": "Authentication accepted",
                    }
                )
            )
            if listening:
                sock.sendall(b"".join(_message(event) for event in self._events))
            return True
        if not logged_in:
            sock.sendall(
                _message({"Response": "Error", **reply, "Message": "Permission denied"})
            )
            return False
        if name == "ping":
            sock.sendall(_message({"Response": "Success", **reply, "Ping": "Pong"}))
        elif name == "logoff":
            sock.sendall(
                _message(
                    {
                        "Response": "Goodbye",
                        **reply,
                        "Message": "Thanks for all the fish.",
                    }
                )
            )
            return None
        elif name == "originate":
            if self.originate == "refuse":
                sock.sendall(
                    _message(
                        {"Response": "Error", **reply, "Message": "Originate failed"}
                    )
                )
                return True
            sock.sendall(
                _message(
                    {
                        "Response": "Success",
                        **reply,
                        "Message": "Originate successfully queued",
                    }
                )
            )
            sock.sendall(
                _message(
                    {
                        "Event": "OriginateResponse",
                        "Privilege": "call,all",
                        **reply,
                        "Response": "Success"
                        if self.originate == "Success"
                        else "Failure",
                        "Channel": action.get("Channel", ""),
                        "Context": action.get("Context", ""),
                        "Exten": action.get("Exten", ""),
                        "Reason": "4"
                        if self.originate == "Success"
                        else self.originate,
                    }
                )
            )
        else:
            sock.sendall(
                _message(
                    {"Response": "Error", **reply, "Message": "Invalid/unknown command"}
                )
            )
        return True
