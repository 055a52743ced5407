from datetime import datetime, timedelta, timezone

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection


@tagged("post_install", "-at_install")
class TestCallsReportTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        connection, _token = make_connection(cls.env)
        anna = new_test_user(
            cls.env, "report_tour_anna", groups="clinic_pbx.clinic_pbx_group_user",
            name="Report Tour Anna", tz="Europe/Moscow",
        )  # fmt: skip
        anna.pbx_extension = "101"
        manager = "clinic_pbx.clinic_pbx_group_manager"
        new_test_user(
            cls.env, "report_tour_manager", groups=manager, tz="Europe/Moscow"
        )
        # Calls of the last days at 09:00 Moscow time, inside the report's
        # default "Last 30 Days" period.
        msk = timezone(timedelta(hours=3))
        today = datetime.now(msk).replace(hour=9, minute=0, second=0, microsecond=0)
        raw = []
        for n, days in enumerate((1, 2, 3)):
            moment = (today - timedelta(days=days)).isoformat()
            raw.append(cdr_event(f"r{n}a", moment, extension="101"))
            raw.append(
                cdr_event(f"r{n}m", moment, extension="101", disposition="no_answer",
                          talk_seconds=0, **{"from": f"+7 916 000-00-0{n}"})
            )  # fmt: skip
        cls.env["pbx.call"]._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )

    def test_groupings_and_chart(self):
        self.start_tour(
            "/odoo/action-clinic_pbx.pbx_call_report_action",
            "clinic_pbx_calls_report_tour",
            login="report_tour_manager",
        )
