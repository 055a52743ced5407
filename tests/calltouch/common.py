"""What the Calltouch tests share: a local Calltouch and a configured company."""

from datetime import datetime, timedelta, timezone

from odoo.tests import TransactionCase, new_test_user

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from ..common import cdr_event, make_connection
from ..fakes.calltouch_server import CalltouchServer

TOKEN = "ct-secret-7f3a9b1c5d"
SITE_ID = "67120"
# A day after the 12th, so that swapping day and month is an invalid date.
NOW = datetime(2026, 1, 25, 12, 0, 0)  # UTC, 15:00 in Moscow
T = datetime(2026, 1, 25, 9, 0, 0)  # UTC, 12:00 in Moscow


def iso(moment):
    return moment.replace(tzinfo=timezone.utc).isoformat()


class CalltouchCase(TransactionCase):
    """A company whose Calltouch settings point at a local Calltouch."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = CalltouchServer(site_id=SITE_ID, token=TOKEN).start()
        cls.addClassCleanup(cls.server.stop)
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.ru")
        cls.company.write(
            {
                "calltouch_enabled": True,
                "calltouch_call_url": cls.server.call_url,
                "calltouch_request_url": cls.server.request_url,
                "calltouch_site_id": SITE_ID,
                "calltouch_token": TOKEN,
                "calltouch_time_lag": 5,
                "calltouch_timezone": "Europe/Moscow",
            }
        )
        cls.connection, _token = make_connection(cls.env)
        cls.receptionist = new_test_user(
            cls.env,
            login="ct_reception",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
            pbx_extension="101",
        )

    def setUp(self):
        super().setUp()
        self.server.reset()
        self.company.calltouch_synced_until = NOW - timedelta(hours=6)

    def sync(self, now=NOW):
        return self.company._calltouch_sync(now=now)

    def pbx_call(self, call_id, when, number, **values):
        """A finished incoming call of the PBX, through the one ingestion path."""
        event = cdr_event(call_id, iso(when), **{"from": number, **values})
        return self.env["pbx.call"]._ingest_events(
            self.connection, [validate_event(0, event)]
        )[2]

    def touches(self, **domain):
        return self.env["pbx.touch"].search(
            [("company_id", "=", self.company.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def touch_of_call(self, call_id):
        return self.touches(calltouch_call_id=str(call_id))
