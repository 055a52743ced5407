from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

PATIENT = "+7 916 444-44-44"


@tagged("post_install", "-at_install")
class TestMissedCallsTour(HttpCase):
    def test_a_missed_patient_is_called_back_and_the_callback_is_done(self):
        connection, _token = make_connection(self.env)
        # Around the clock, so that the call is due today whatever the hour.
        self.env.company.resource_calendar_id = False
        anna = new_test_user(
            self.env,
            "missed_tour_anna",
            name="Missed Tour Anna",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
            pbx_extension="101",
        )
        patient = self.env["res.partner"].create(
            {"name": "Irina Volkova", "mobile": PATIENT}
        )
        now = fields.Datetime.now().replace(microsecond=0)

        def ingest(call_id, at, **values):
            raw = cdr_event(call_id, at.isoformat() + "+00:00", **values)
            return self.env["pbx.call"]._ingest_events(
                connection, [validate_event(0, raw)]
            )[2]

        missed = ingest(
            "mct-1",
            now - timedelta(hours=1),
            disposition="no_answer",
            talk_seconds=0,
            extension="101",
            **{"from": PATIENT},
        )
        activity = missed.callback_activity_id
        self.assertEqual(activity.user_id, anna)
        self.start_tour(
            "/odoo/action-clinic_pbx.pbx_call_action_missed_calls",
            "clinic_pbx_missed_calls_tour",
            login=anna.login,
        )

        # The softphone dialled; the PBX reports the answered call back.
        ingest(
            "mct-2",
            now - timedelta(minutes=5),
            direction="outgoing",
            disposition="answered",
            talk_seconds=75,
            extension="101",
            **{"from": "101", "to": PATIENT},
        )
        self.assertFalse(activity.active, "the callback is done")
        self.start_tour(
            "/odoo/action-clinic_pbx.pbx_call_action_missed_calls",
            "clinic_pbx_missed_calls_done_tour",
            login=anna.login,
        )
        self.start_tour(
            f"/odoo/res.partner/{patient.id}",
            "clinic_pbx_missed_calls_patient_tour",
            login=anna.login,
        )
