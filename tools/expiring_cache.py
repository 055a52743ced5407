"""A small per-process LRU whose entries expire."""

import threading
import time
from collections import OrderedDict


class ExpiringCache:
    """An LRU of at most ``size`` entries, each kept ``seconds``: one per
    process, shared by its threads."""

    def __init__(self, seconds, size):
        self.seconds, self.size = seconds, size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key, value):
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self):
        with self._lock:
            self._entries.clear()
