from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection, make_pbx_users
from .recording_server import RecordingServer, make_wav

WAV = make_wav()
PATH = "/2026/11/05/in-101-79161234567-20261105-091730-1762323450.7.wav"


@tagged("post_install", "-at_install")
class TestRecording(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.enterClassContext(
            RecordingServer({PATH: WAV}, username="monitor", password="s3cret")
        )
        cls.connection, _token = make_connection(
            cls.env,
            recordings_base_url=cls.pbx.url,
            recordings_username="monitor",
            recordings_password="s3cret",
        )
        cls.users = make_pbx_users(cls.env, prefix="rec")
        cls.users["listener"].pbx_extension = "301"
        cls.users["user"].pbx_extension = "301"
        cls.users["manager"].groups_id |= cls.env.ref(
            "clinic_pbx.clinic_pbx_group_recordings"
        )
        Call = cls.env["pbx.call"]
        url = cls.pbx.url + PATH
        raw = [
            cdr_event(
                "rec-1", "2026-11-05T09:17:30+03:00", extension="301", recording_url=url
            ),
            cdr_event(
                "rec-2", "2026-11-05T10:00:00+03:00", extension="999", recording_url=url
            ),
            cdr_event("rec-3", "2026-11-05T11:00:00+03:00", extension="301"),
        ]
        events = [validate_event(i, event) for i, event in enumerate(raw)]
        Call._ingest_events(cls.connection, events)
        calls = Call.search([("connection_id", "=", cls.connection.id)])
        cls.mine = calls.filtered(lambda c: c.external_id == "rec-1")
        cls.others = calls.filtered(lambda c: c.external_id == "rec-2")
        cls.silent = calls.filtered(lambda c: c.external_id == "rec-3")

    def get(self, call, headers=None):
        return self.url_open(
            f"/pbx/recording/{call.id}", headers=headers or {}, timeout=30
        )

    def listens(self, call):
        return self.env["pbx.recording.listen"].search([("call_id", "=", call.id)])

    def test_listener_plays_the_recording_through_odoo(self):
        self.authenticate("rec_listener", "rec_listener")
        response = self.get(self.mine)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        self.assertEqual(response.headers["Content-Type"], "audio/wav")
        self.assertNotIn(self.pbx.url, response.text[:200])
        path, _range, auth = self.pbx.requests[-1]
        self.assertEqual(path, PATH)
        self.assertTrue(
            auth.startswith("Basic "), "PBX credentials come from the server"
        )
        listen = self.listens(self.mine)
        self.assertEqual(listen.user_id, self.users["listener"])

    def test_credentials_go_only_to_the_recordings_server(self):
        # A recording URL on another server (the event API takes any URL
        # from whoever holds the PBX's token) gets no PBX password.
        with RecordingServer({PATH: WAV}) as elsewhere:
            event = cdr_event(
                "rec-4", "2026-11-05T12:00:00+03:00", extension="301",
                recording_url=elsewhere.url + PATH,
            )  # fmt: skip
            call = self.env["pbx.call"]._ingest_events(
                self.connection, [validate_event(0, event)]
            )[2]
            self.authenticate("rec_listener", "rec_listener")
            response = self.get(call)
            self.assertEqual(response.status_code, 200)
            ((path, _range, auth),) = elsewhere.requests
        self.assertEqual(path, PATH)
        self.assertIsNone(auth)

    def test_range_requests_let_the_player_seek(self):
        self.authenticate("rec_listener", "rec_listener")
        response = self.get(self.mine, {"Range": "bytes=100-199"})
        self.assertEqual(response.status_code, 206)
        self.assertEqual(response.content, WAV[100:200])
        self.assertEqual(response.headers["Content-Range"], f"bytes 100-199/{len(WAV)}")
        self.assertFalse(self.listens(self.mine), "seeking is not a new listen")
        self.get(self.mine, {"Range": "bytes=0-"})
        self.assertEqual(len(self.listens(self.mine)), 1)

    @mute_logger("odoo.http")
    def test_without_the_recordings_group_it_is_403(self):
        self.authenticate("rec_user", "rec_user")
        seen = len(self.pbx.requests)
        self.assertEqual(self.get(self.mine).status_code, 403)
        self.assertEqual(len(self.pbx.requests), seen, "the PBX was not asked")
        self.assertFalse(self.listens(self.mine))

    @mute_logger("odoo.http")
    def test_a_call_the_user_cannot_see_is_403(self):
        self.authenticate("rec_listener", "rec_listener")
        self.assertEqual(self.get(self.others).status_code, 403)

    def test_a_call_without_recording_is_404(self):
        self.authenticate("rec_listener", "rec_listener")
        self.assertEqual(self.get(self.silent).status_code, 404)

    def test_managers_see_who_listened(self):
        self.authenticate("rec_listener", "rec_listener")
        self.get(self.mine)
        manager_view = self.mine.with_user(self.users["manager"])
        self.assertEqual(manager_view.listen_ids.user_id, self.users["listener"])

    def test_the_browser_never_gets_the_pbx_url(self):
        for user in self.users.values():
            fields = self.env["pbx.call"].with_user(user).fields_get()
            self.assertNotIn("recording_url", fields)
        listener_list = (
            self.env["pbx.call"]
            .with_user(self.users["listener"])
            .get_views([(False, "list")])
        )
        plain_list = (
            self.env["pbx.call"]
            .with_user(self.users["user"])
            .get_views([(False, "list")])
        )
        self.assertIn('name="has_recording"', listener_list["views"]["list"]["arch"])
        self.assertNotIn('name="has_recording"', plain_list["views"]["list"]["arch"])
