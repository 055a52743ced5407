"""Two Odoo nodes on one database behind nginx, as docs/deploy.md sets up.

Each node runs with --workers=2 and its own HTTP and gevent ports; nginx
serves docs/nginx-clinic-pbx.conf in front of both (websockets to the gevent
ports). The PBX posts to one node while the receptionist's browser is on
the other; and the phones of one ring group post to both nodes at once.
"""

import json
import os
import threading
import time
from datetime import datetime, timezone

import event_relay
import pytest
import requests
import websocket
from e2e_checks import check_answers, check_calls, report
from e2e_servers import ADDON, NGINX_TEMPLATE, Nginx, OdooNode

from odoo.addons.bus.websocket import WebsocketConnectionHandler

RACE_CALLS = 12
DEPLOY_GUIDE = os.path.join(ADDON, "docs", "deploy.md")


@pytest.fixture(scope="module")
def cluster(conf, database, logdir, nginx_binary):
    with (
        OdooNode(conf, database.name, logdir, "a") as node_a,
        OdooNode(conf, database.name, logdir, "b") as node_b,
        Nginx(nginx_binary, [node_a, node_b], logdir) as proxy,
    ):
        yield node_a, node_b, proxy


def _login(proxy, database):
    """A browser's session, logged in through nginx."""
    session = requests.Session()
    response = session.post(
        f"{proxy.url}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "db": database.name,
                "login": database.desk_login,
                "password": database.desk_password,
            },
        },
        timeout=60,
        verify=proxy.certificate,
    )
    response.raise_for_status()
    assert not response.json().get("error"), response.text[:500]
    return session


class Browser:
    """One websocket of the web client, opened through nginx."""

    def __init__(self, proxy, session, last):
        cookie = session.cookies.get("session_id")
        self.ws = websocket.create_connection(
            proxy.url.replace("https", "wss")
            + f"/websocket?version={WebsocketConnectionHandler._VERSION}",
            cookie=f"session_id={cookie}",
            origin=proxy.url,
            sslopt={"ca_certs": proxy.certificate},
            timeout=30,
        )
        # what the web client's bus service sends first
        subscribe = {"channels": [], "last": last}
        self.ws.send(json.dumps({"event_name": "subscribe", "data": subscribe}))

    def wait_for(self, kind, match, seconds=20):
        """The first payload of type ``kind`` for which ``match`` holds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            for notification in json.loads(text):
                message = notification["message"]
                if message["type"] == kind and match(message["payload"]):
                    return message["payload"]
        return None

    def close(self):
        self.ws.close()


def _last_bus_id(database):
    [(last,)] = database.postgres.query(
        database.name, "SELECT coalesce(max(id), 0) FROM bus_bus"
    )
    return last


def _ring(node, database, call_id, caller):
    relay = event_relay.EventRelay(node.url, database.token)
    delivery = relay.post(
        [
            {
                "type": "ringing",
                "call_id": call_id,
                "time": "2026-11-05T09:17:30+03:00",
                "direction": "incoming",
                "from": caller,
                "to": event_relay.CLINIC_LINE,
                "extension": "201",
            }
        ]
    )
    assert delivery.ok, [(a.status, a.text) for a in delivery.attempts]


def test_the_site_of_the_deploy_guide_serves_odoo(cluster, database):
    _node_a, _node_b, proxy = cluster
    with open(NGINX_TEMPLATE) as site, open(DEPLOY_GUIDE) as guide:
        assert site.read().strip() in guide.read(), (
            "docs/deploy.md shows docs/nginx-clinic-pbx.conf as it is"
        )
    health = requests.get(
        f"{proxy.url}/web/health", verify=proxy.certificate, timeout=30
    )
    assert health.status_code == 200 and health.json()["status"] == "pass"
    redirect = requests.get(
        f"{proxy.plain_url}/web/login", allow_redirects=False, timeout=30
    )
    assert redirect.status_code == 301
    assert redirect.headers["Location"].startswith("https://")
    # a relay posts to the public address: dbfilter picks the database
    relay = event_relay.EventRelay(proxy.url, database.token, verify=proxy.certificate)
    delivery = relay.post([])
    assert delivery.ok and delivery.body == {"accepted": 0, "duplicates": 0}, [
        (a.status, a.text) for a in delivery.attempts
    ]
    session = _login(proxy, database)
    cookie = next(c for c in session.cookies if c.name == "session_id")
    assert cookie.secure, "nginx marks the session cookie Secure"


def test_ring_posted_to_one_node_pops_up_on_a_browser_of_the_other(cluster, database):
    node_a, node_b, proxy = cluster
    session = _login(proxy, database)
    last = _last_bus_id(database)
    # nginx balances websockets over both gevent workers: open them until
    # each node holds one, knowing which is which by their connections.
    on = {}
    browsers = []
    try:
        for _try in range(6):
            before = {node.name: node.websocket_peers() for node in (node_a, node_b)}
            browser = Browser(proxy, session, last)
            browsers.append(browser)
            time.sleep(0.2)
            for node in (node_a, node_b):
                if node.websocket_peers() > before[node.name]:
                    on.setdefault(node.name, browser)
            if len(on) == 2:
                break
        assert set(on) == {"a", "b"}, (
            f"nginx did not route /websocket to both gevent workers: {sorted(on)}"
        )
        for posted_to, browser_on, caller in (
            (node_a, "b", "+7 916 555-01-01"),
            (node_b, "a", "+7 916 555-02-02"),
        ):
            _ring(posted_to, database, f"nodes-{posted_to.name}", caller)
            payload = on[browser_on].wait_for(
                "pbx.call/ring", lambda p, caller=caller: p["caller"] == caller
            )
            assert payload, (
                f"the ring posted to node {posted_to.name} did not reach the "
                f"browser on node {browser_on} through nginx"
            )
            assert payload["extension"] == "201"
    finally:
        for browser in browsers:
            browser.close()


def test_ring_group_posted_to_both_nodes_at_once_makes_one_call(cluster, database):
    node_a, node_b, _proxy = cluster
    start = datetime.now(timezone.utc).replace(microsecond=0)
    calls = [
        event_relay.make_call(index, "race", start, answered=index % 3 != 2)
        for index in range(RACE_CALLS)
    ]
    relays = [
        event_relay.EventRelay(node.url, database.token) for node in (node_a, node_b)
    ]
    deliveries = []
    lock = threading.Lock()
    for call in calls:
        # every phone's ringing, the answer and the hangup at the same moment,
        # alternately to node A and node B
        barrier = threading.Barrier(len(call.posts))

        def post(index, event, barrier=barrier):
            barrier.wait()
            delivery = relays[index % 2].post([event])
            with lock:
                deliveries.append(delivery)

        threads = [
            threading.Thread(target=post, args=(index, event))
            for index, (_at, event) in enumerate(call.posts)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    report(
        f"e2e two nodes: {len(deliveries)} events of {len(calls)} ring-group calls, "
        "each call's events posted at once, alternately to node A and node B",
        deliveries,
    )
    problems = check_answers(deliveries)
    problems += check_calls(database, calls, "race")
    assert not problems, "\n".join(problems)
