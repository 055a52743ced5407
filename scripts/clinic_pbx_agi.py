#!/usr/bin/env python3
"""Asterisk AGI script: sends one live call event to clinic_pbx's Event API.

Called from the dialplan (see docs/event-api.md)::

    AGI(clinic_pbx_agi.py,ringing,<call id>,<from>,<to>,<extension>)
    AGI(clinic_pbx_agi.py,answered,<call id>,<extension>)
    AGI(clinic_pbx_agi.py,hangup,<call id>,<DIALSTATUS>,<billsec>,<duration>)

Asterisk passes the arguments to this program directly, not through a shell,
and the JSON body is built here by a JSON encoder, so no caller-controlled
value is ever run or spliced into the body; numbers are also reduced to digits
and ``+`` here, whatever the dialplan passed. The Odoo URL and the connection's
API token are read from /etc/asterisk/clinic_pbx.conf (owner asterisk, mode
0600; $CLINIC_PBX_AGI_CONF names another file)::

    [clinic_pbx]
    url = https://odoo.example.com
    token = <the connection's API token>

The event is posted by a background process, so the call never waits for
Odoo; it is retried on 5xx answers and network errors, as docs/event-api.md
asks of a relay. Python 3.6+, standard library only.
"""

import configparser
import json
import os
import re
import sys
import syslog
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

CONF = os.environ.get("CLINIC_PBX_AGI_CONF", "/etc/asterisk/clinic_pbx.conf")
DISPOSITIONS = {
    "ANSWER": "answered",
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CANCEL": "no_answer",
}
ATTEMPTS = 6


def number(value):
    """Only the digits and + of a number (a caller ID may hold anything);
    ``anonymous`` for a withheld one, as in FreePBX's CDR."""
    return re.sub(r"[^0-9+]", "", value or "")[:64] or "anonymous"


def token_text(value, limit):
    """An extension or call id: printable ASCII without spaces or quotes."""
    return re.sub(r"[^0-9A-Za-z.*#_+-]", "", value or "")[:limit]


def seconds(value):
    return int(value) if (value or "").isdigit() else 0


def build_event(args, now):
    """The Event API event of the AGI arguments ``args`` (type first)."""
    kind = args[0] if args else ""
    values = list(args[1:]) + [""] * 5
    event = {"type": kind, "call_id": token_text(values[0], 128), "time": now}
    if kind == "ringing":
        event.update(
            {
                "direction": "incoming",
                "from": number(values[1]),
                "to": number(values[2]),
                "extension": token_text(values[3], 32),
            }
        )
    elif kind == "answered":
        event["extension"] = token_text(values[1], 32)
    elif kind == "hangup":
        billsec, duration = seconds(values[2]), seconds(values[3])
        event.update(
            {
                "disposition": DISPOSITIONS.get(values[1].upper(), "failed"),
                "talk_seconds": billsec,
                "wait_seconds": max(0, duration - billsec),
            }
        )
    else:
        raise ValueError("the first AGI argument must be ringing, answered or hangup")
    return event


def read_agi_environment(stream):
    """Asterisk first sends ``agi_name: value`` lines, then an empty line."""
    env = {}
    for line in stream:
        line = line.strip()
        if not line:
            break
        name, _sep, value = line.partition(":")
        env[name.strip()] = value.strip()
    return env


def post(url, token, event):
    body = json.dumps({"events": [event]}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/pbx/v1/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + token,
        },
        method="POST",
    )
    delay = 1
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == ATTEMPTS - 1:
                syslog.syslog(syslog.LOG_WARNING, "clinic_pbx: refused %s" % error.code)
                return error.code
            retry_after = error.headers.get("Retry-After", "")
            delay = int(retry_after) if retry_after.isdigit() else delay * 2
        except OSError as error:
            if attempt == ATTEMPTS - 1:
                syslog.syslog(syslog.LOG_WARNING, "clinic_pbx: %s" % error)
                return None
            delay *= 2
        time.sleep(min(delay, 60))
    return None


def main(argv):
    read_agi_environment(sys.stdin)
    now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    event = build_event(argv[1:], now)
    conf = configparser.ConfigParser()
    conf.read(CONF)
    url, token = conf["clinic_pbx"]["url"], conf["clinic_pbx"]["token"]
    if os.environ.get("CLINIC_PBX_AGI_FOREGROUND"):
        return 0 if post(url, token, event) == 200 else 1
    if os.fork():
        return 0  # Asterisk goes on with the call at once
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    post(url, token, event)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
