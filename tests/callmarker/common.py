from datetime import datetime

from freezegun import freeze_time

from odoo.tests import new_test_user

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from ..common import cdr_event, make_connection
from ..fakes.callmarker_server import CallmarkerServer

T0 = "2026-11-05T09:17:30+03:00"
NOW = datetime(2026, 11, 5, 12, 0, 0)  # naive UTC, after the calls
MUTE = ("odoo.addons.clinic_pbx.models.callmarker.res_company",)


def result(call, analyzed_at="2026-11-05T11:58:00Z", **values):
    """A Callmarker result for ``call`` in the documented format."""
    raw = {
        "call_id": str(call.id),
        "analyzed_at": analyzed_at,
        "tags": [
            {"category": "Intent", "name": "Booking", "source": "auto"},
            {"category": "Outcome", "name": "Appointment made", "source": "auto"},
        ],
        "score": {"value": 8, "max": 10},
        "checklist": [
            {"criterion": "Greeted with the clinic's name", "passed": True},
            {"criterion": "Asked for the patient's name", "passed": True},
            {"criterion": "Offered the nearest slot", "passed": False, "weight": 2},
        ],
        "summary": "Booked a cleaning for Thursday.",
    }
    raw.update(values)
    return raw


class CallmarkerMixin:
    """A company wired to a local Callmarker and calls fed as a PBX would.

    The class gets a PBX connection, a receptionist on extension 101 and a
    PBX Manager; each test gets a fresh local Callmarker (``self.mock``) the
    company is configured for, unless the class sets ``start_service`` False.
    """

    start_service = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_callmarker()

    def setUp(self):
        super().setUp()
        if self.start_service:
            self.start_mock()

    @classmethod
    def setup_callmarker(cls):
        cls.connection, _token = make_connection(cls.env)
        cls.company = cls.env.company
        cls.anna = new_test_user(
            cls.env,
            login="cm_anna",
            name="Anna Ivanova",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
            pbx_extension="101",
        )
        cls.manager = new_test_user(
            cls.env,
            login="cm_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        )
        cls.Call = cls.env["pbx.call"]
        cls.Push = cls.env["pbx.callmarker.push"]

    def start_mock(self):
        self.mock = CallmarkerServer().start()
        self.addCleanup(self.mock.stop)
        self.company.sudo().write(
            {
                "callmarker_enabled": True,
                "callmarker_call_data_url": self.mock.results_url,
                "callmarker_request_data_url": self.mock.push_url,
                "callmarker_integration_id": self.mock.integration_id,
                "callmarker_token": self.mock.token,
                "callmarker_time_lag": 5,
            }
        )

    def ingest(self, *raw_events):
        events = [validate_event(i, raw) for i, raw in enumerate(raw_events)]
        _accepted, _duplicates, calls = self.Call._ingest_events(
            self.connection, events
        )
        return calls

    def finished_call(self, call_id, time=T0, **values):
        return self.ingest(cdr_event(call_id, time, **values))

    def wait_at_most(self, seconds):
        """Callmarker's answers are waited for ``seconds`` (not 30) from now
        on, as a manager sets it (docs/callmarker.md)."""
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.callmarker_timeout", f"5,{seconds}"
        )

    def sync(self, now=NOW):
        with freeze_time(now):
            self.company._callmarker_sync()
        self.env.invalidate_all()

    def push_of(self, call):
        return self.Push.search([("call_id", "=", call.id)])
