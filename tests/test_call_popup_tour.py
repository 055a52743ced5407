import json
import threading
from unittest.mock import patch

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler

from .common import make_connection

PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


class BusPump:
    """Wakes the websockets of a channel while a browser test runs.

    Outside tests the bus wakes them with PostgreSQL NOTIFY after each
    commit; a test's cursor never commits, so this does it instead, a few
    times a second (the notifications themselves are read from bus.bus by
    Odoo's websocket code as usual).
    """

    def __init__(self, dbname, record, period=0.2):
        self.key = hashable(channel_with_db(dbname, record))
        self.period = period
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(self.period):
            for websocket in list(dispatch._channels_to_ws.get(self.key, ())):
                websocket.trigger_notification_dispatching()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


@tagged("post_install", "-at_install")
class TestCallPopupTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env)
        cls.anna = new_test_user(
            cls.env,
            login="tour_anna",
            name="Anna Tourova",
            groups=PBX_USER + ",sales_team.group_sale_salesman",
            pbx_extension="101",
        )
        cls.boris = new_test_user(
            cls.env,
            login="tour_boris",
            name="Boris Tourov",
            groups=PBX_USER,
            pbx_extension="102",
        )
        cls.patient = cls.env["res.partner"].create(
            {
                "name": "Vera Sokolova",
                "mobile": "+7 916 123-45-67",
                "ref": "P-0042",
                "country_id": cls.env.ref("base.ru").id,
            }
        )
        cls.env["res.partner"].create(
            {
                "name": "<img src=x onerror=alert(1)>",
                "mobile": "+7 916 555-00-99",
                "country_id": cls.env.ref("base.ru").id,
            }
        )
        cls.env["crm.lead"].create(
            {
                "name": "Dental check-up",
                "partner_id": cls.patient.id,
                "type": "opportunity",
            }
        )

    def test_pop_up_over_contacts_closes_when_answered(self):
        # The browser's bus needs Odoo's websocket, which tests disable.
        allow = patch.object(
            WebsocketConnectionHandler, "websocket_allowed", return_value=True
        )
        url = "/odoo/contacts"
        options = {
            "stepDelay": 0,
            "keepWatchBrowser": False,
            "debug": False,
            "startUrl": url,
            "delayToCheckUndeterminisms": 0,
        }
        code = (
            f"window.clinicPbxTour = {{token: {json.dumps(self.token)}}}; "
            f"odoo.startTour('clinic_pbx_call_popup_tour', {json.dumps(options)})"
        )
        with allow, BusPump(self.env.cr.dbname, self.anna.partner_id):
            self.start_tour(
                url,
                "clinic_pbx_call_popup_tour",
                login=self.anna.login,
                code=code,
                timeout=120,
            )
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)]
        )
        by_id = {call.external_id: call for call in calls}
        self.assertEqual(by_id["tour-known"].user_id, self.boris)
        self.assertEqual(by_id["tour-known"].partner_id, self.patient)
        self.assertTrue(by_id["tour-html"].missed)
        self.assertEqual(by_id["tour-take"].user_id, self.anna)
