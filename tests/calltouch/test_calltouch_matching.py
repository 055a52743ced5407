from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from ..fakes.calltouch_server import make_call
from .common import CalltouchCase, T, iso

# Time Lag is 5 minutes: 300 s is inside, 301 s is just outside.
EDGES = {
    "79161000001": 300,
    "79161000002": 301,
    "79161000003": -300,
    "79161000004": -301,
}


@tagged("post_install", "-at_install")
class TestCalltouchMatching(CalltouchCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.patient = cls.env["res.partner"].create(
            {"name": "Ирина Смирнова", "mobile": "+7 916 100-00-01"}
        )

    def add_edge_calls(self):
        for index, (number, offset) in enumerate(EDGES.items()):
            self.server.add_call(
                make_call(1000 + index, T + timedelta(seconds=offset), number)
            )

    def ingest_edge_pbx_calls(self):
        return {
            number: self.pbx_call(f"pbx-{number}", T, "8" + number[1:])
            for number in EDGES
        }

    def assert_edges(self, pbx_calls):
        for index, (number, offset) in enumerate(EDGES.items()):
            touch = self.touch_of_call(1000 + index)
            if abs(offset) <= 300:
                self.assertEqual(
                    touch.call_id, pbx_calls[number], f"{offset:+d} s should match"
                )
            else:
                self.assertFalse(touch.call_id, f"{offset:+d} s should not match")

    def test_time_lag_edges_when_the_pbx_call_is_there_first(self):
        pbx_calls = self.ingest_edge_pbx_calls()
        self.add_edge_calls()
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        self.assert_edges(pbx_calls)
        matched = self.touch_of_call(1000)
        self.assertEqual(matched.partner_id, self.patient)
        self.assertEqual(matched.user_id, self.receptionist)
        self.assertEqual(pbx_calls["79161000001"].touch_ids, matched)

    def test_time_lag_edges_when_the_pbx_call_arrives_later(self):
        self.add_edge_calls()
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        self.assertFalse(self.touches().call_id)
        pbx_calls = self.ingest_edge_pbx_calls()
        self.assert_edges(pbx_calls)
        self.assertEqual(self.touch_of_call(1000).partner_id, self.patient)

    def test_the_closest_pbx_call_wins_and_holds_one_touch(self):
        first = self.pbx_call("pbx-a", T, "+79162223344")
        second = self.pbx_call("pbx-b", T + timedelta(seconds=240), "+79162223344")
        self.server.add_call(make_call(1101, T + timedelta(seconds=60), "79162223344"))
        self.server.add_call(make_call(1102, T + timedelta(seconds=200), "79162223344"))
        self.assertTrue(self.sync())
        self.assertEqual(self.touch_of_call(1101).call_id, first)
        self.assertEqual(self.touch_of_call(1102).call_id, second)
        # A third tracked call of the same number finds no free PBX call.
        self.server.add_call(make_call(1103, T + timedelta(seconds=120), "79162223344"))
        self.assertTrue(self.sync())
        self.assertFalse(self.touch_of_call(1103).call_id)
        self.assertEqual(self.touch_of_call(1101).call_id, first)

    def test_only_incoming_calls_of_the_same_number_match(self):
        self.pbx_call("pbx-out", T, "101", to="+79163334455", direction="outgoing")
        self.pbx_call("pbx-other", T, "+79160000000")
        self.server.add_call(make_call(1201, T, "79163334455"))
        self.assertTrue(self.sync())
        self.assertFalse(self.touch_of_call(1201).call_id)

    def test_a_ringing_call_is_matched_and_gets_its_admin_when_answered(self):
        self.server.add_call(make_call(1301, T, "79164445566"))
        self.assertTrue(self.sync())
        touch = self.touch_of_call(1301)
        self.assertFalse(touch.user_id)
        Call = self.env["pbx.call"]
        ringing = {
            "type": "ringing",
            "call_id": "live-1",
            "time": iso(T + timedelta(seconds=20)),
            "direction": "incoming",
            "from": "+7 916 444-55-66",
            "to": "74951234500",
            "extension": "101",
        }
        Call._ingest_events(self.connection, [validate_event(0, ringing)])
        call = Call.search([("external_id", "=", "live-1")])
        self.assertEqual(touch.call_id, call)
        self.assertFalse(touch.user_id)
        answered = {
            "type": "answered",
            "call_id": "live-1",
            "time": iso(T + timedelta(seconds=30)),
            "extension": "101",
        }
        Call._ingest_events(self.connection, [validate_event(0, answered)])
        self.assertEqual(call.user_id, self.receptionist)
        self.assertEqual(touch.user_id, self.receptionist)

    def test_a_patient_created_later_is_put_on_the_touch(self):
        self.server.add_call(make_call(1401, T, "79165556677"))
        self.assertTrue(self.sync())
        touch = self.touch_of_call(1401)
        self.assertFalse(touch.partner_id)
        patient = self.env["res.partner"].create(
            {"name": "Новый пациент", "phone": "8 (916) 555-66-77"}
        )
        self.assertEqual(touch.partner_id, patient)
