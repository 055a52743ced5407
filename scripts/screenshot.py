"""Screenshot of an Odoo page as a logged-in user, with headless Chromium.

    python scripts/screenshot.py URL OUT.png [--login admin --password admin]
        [--db NAME] [--wait-for CSS] [--click CSS ...] [--width 1400 --height 900]
        [--delay 1.5]

Logs in through /web/session/authenticate, gives the session cookie to a
fresh headless Chromium over the DevTools protocol, opens URL, waits for the
CSS selector (if any), clicks the --click selectors in order, and saves a PNG.
Used to look at screens the way users see them (docs/screenshots/).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websocket


def login(base, db, user, password):
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"db": db, "login": user, "password": password},
    }
    request = urllib.request.Request(
        f"{base}/web/session/authenticate",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
        if body.get("error"):
            sys.exit(f"screenshot: login failed: {body['error'].get('message')}")
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("session_id="):
                return header.split(";", 1)[0].split("=", 1)[1]
    sys.exit("screenshot: no session cookie after login")


class Chrome:
    def __init__(self, width, height):
        binary = next(
            (
                shutil.which(b)
                for b in ("chromium", "google-chrome", "chromium-browser")
                if shutil.which(b)
            ),
            None,
        )
        if not binary:
            sys.exit("screenshot: Chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="clinic-pbx-shot-")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(100):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 3:
                break
            time.sleep(0.1)
        port = int(open(port_file).readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            target = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], suppress_origin=True
        )
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        self.ws.send(json.dumps(message))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=30):
        deadline = time.time() + timeout
        check = f"!!document.querySelector({json.dumps(selector)})"
        while time.time() < deadline:
            if self.evaluate(check):
                return
            time.sleep(0.2)
        sys.exit(f"screenshot: {selector!r} did not appear within {timeout}s")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--db", default=os.environ.get("RUN_DB", "clinic_pbx_demo"))
    parser.add_argument("--wait-for", default=".o_action_manager .o_view_controller")
    parser.add_argument("--click", action="append", default=[])
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--delay", type=float, default=1.5)
    args = parser.parse_args()

    parts = urllib.parse.urlsplit(args.url)
    base = f"{parts.scheme}://{parts.netloc}"
    session = login(base, args.db, args.login, args.password)
    chrome = Chrome(args.width, args.height)
    try:
        chrome.call("Network.enable")
        chrome.call(
            "Network.setCookie",
            name="session_id",
            value=session,
            domain=parts.hostname,
            path="/",
        )
        chrome.call("Page.enable")
        chrome.call("Page.navigate", url=args.url)
        if args.wait_for:
            chrome.wait_for(args.wait_for)
        for selector in args.click:
            chrome.wait_for(selector)
            chrome.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
            time.sleep(args.delay)
        time.sleep(args.delay)
        shot = chrome.call("Page.captureScreenshot", format="png")
        with open(args.out, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print(f"screenshot: wrote {args.out}")
    finally:
        chrome.close()


if __name__ == "__main__":
    main()
