from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection
from .fakes.recording_server import RecordingServer, make_wav


@tagged("post_install", "-at_install")
class TestCallLogTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.enterClassContext(
            RecordingServer({"/rec.wav": make_wav(seconds=3)})
        )
        connection, _token = make_connection(cls.env, recordings_base_url=cls.pbx.url)
        recordings = "clinic_pbx.clinic_pbx_group_recordings"
        anna = new_test_user(cls.env, "tour_anna", groups=recordings, name="Tour Anna")
        anna.pbx_extension = "101"
        olga = new_test_user(cls.env, "tour_olga", groups=recordings, name="Tour Olga")
        olga.pbx_extension = "102"
        new_test_user(
            cls.env,
            "tour_manager",
            groups=f"clinic_pbx.clinic_pbx_group_manager,{recordings}",
        )
        url = cls.pbx.url + "/rec.wav"
        missed = {"disposition": "no_answer", "talk_seconds": 0}
        raw = [
            cdr_event("t1", "2026-11-05T09:00:00+03:00", extension="102",
                      recording_url=url, **{"from": "+7 916 000-00-01"}),
            cdr_event("t2", "2026-11-05T09:10:00+03:00", extension="101",
                      **missed, **{"from": "+7 916 111-11-11"}),
            cdr_event("t3", "2026-11-05T09:20:00+03:00", extension="101",
                      recording_url=url, **{"from": "+7 916 222-22-22"}),
            cdr_event("t4", "2026-11-05T09:30:00+03:00", extension="102",
                      **missed, **{"from": "+7 916 333-33-33"}),
        ]  # fmt: skip
        Call = cls.env["pbx.call"]
        calls = Call._ingest_events(
            connection, [validate_event(i, e) for i, e in enumerate(raw)]
        )[2]
        # Anna took t3 from the shared reception extension with "I'll take it".
        calls.filtered(lambda c: c.external_id == "t3")._claim(anna)

    def test_filter_missed_calls_of_an_admin_and_play_a_recording(self):
        self.start_tour(
            "/odoo/action-clinic_pbx.pbx_call_action",
            "clinic_pbx_call_log_tour",
            login="tour_manager",
        )
