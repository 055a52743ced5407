import json

from odoo.tests import new_test_user, tagged

from odoo.addons.bus.tests.common import WebsocketCase

from .common import EventApiMixin, make_connection

PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


@tagged("post_install", "-at_install")
class TestCallPopupWebsocket(EventApiMixin, WebsocketCase):
    """The pop-up reaches a logged-in browser session over Odoo's websocket."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env)
        cls.anna = new_test_user(
            cls.env,
            login="ws_anna",
            password="ws_anna_pw",
            groups=PBX_USER,
            pbx_extension="101",
        )
        cls.olga = new_test_user(
            cls.env,
            login="ws_olga",
            password="ws_olga_pw",
            groups=PBX_USER,
            pbx_extension="102",
        )
        cls.env["res.partner"].create(
            {"name": "Vera Sokolova", "mobile": "+7 916 123-45-67"}
        )

    def connect_as(self, user, password, channels=()):
        session = self.authenticate(user.login, password)
        websocket = self.websocket_connect(cookie=f"session_id={session.sid}")
        last = self.env["bus.bus"].sudo()._bus_last_id()
        self.subscribe(websocket, list(channels), last)
        return websocket

    def receive(self, websocket):
        return [
            (message["message"]["type"], message["message"]["payload"])
            for message in json.loads(websocket.recv())
        ]

    def ring(self, call_id, caller):
        response = self.post_events(
            [
                {
                    "type": "ringing",
                    "call_id": call_id,
                    "time": "2026-11-05T09:17:30+03:00",
                    "direction": "incoming",
                    "from": caller,
                    "to": "+7 495 123-45-00",
                    "extension": "101",
                }
            ],
            self.token,
        )
        self.assertEqual(response.status_code, 200, response.text)

    def test_ring_payload_arrives_on_the_user_websocket(self):
        websocket = self.connect_as(self.anna, "ws_anna_pw")
        self.ring("ws-1", "8 916 123-45-67")
        # The test cursor never commits: wake the websockets the way the
        # bus does after a commit.
        self.trigger_notification_dispatching([self.anna.partner_id])
        messages = self.receive(websocket)
        self.assertEqual([kind for kind, _payload in messages], ["pbx.call/ring"])
        payload = messages[0][1]
        self.assertEqual(payload["caller"], "8 916 123-45-67")
        self.assertEqual(payload["extension"], "101")
        self.assertEqual([p["name"] for p in payload["patients"]], ["Vera Sokolova"])

    def test_other_users_get_nothing_even_on_guessable_channels(self):
        anna_partner = self.anna.partner_id
        websocket = self.connect_as(
            self.olga,
            "ws_olga_pw",
            channels=[
                "pbx.call",
                "pbx.call/ring",
                "clinic_pbx",
                "101",
                "pbx_101",
                f"res.partner_{anna_partner.id}",
                json.dumps([self.env.cr.dbname, "res.partner", anna_partner.id]),
            ],
        )
        self.ring("ws-2", "+7 916 123-45-67")
        # Then something for Olga herself: it must be the first thing she gets.
        self.olga._bus_send("clinic_pbx.test/marker", {"ok": True})
        self.trigger_notification_dispatching(
            [anna_partner, self.olga.partner_id, "pbx.call", "101", "clinic_pbx"]
        )
        self.assertEqual(
            self.receive(websocket), [("clinic_pbx.test/marker", {"ok": True})]
        )
