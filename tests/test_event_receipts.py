from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_batch

from .common import cdr_event, make_connection

NOW = datetime(2026, 11, 20, 12, 0)


def live_call(call_id, number, answered=True):
    """ringing, (answered,) hangup of an incoming call on extension 101."""
    start = "2026-11-05T09:00:00+03:00"
    events = [
        {
            "type": "ringing",
            "call_id": call_id,
            "time": start,
            "direction": "incoming",
            "from": number,
            "to": "74951234500",
            "extension": "101",
        }
    ]
    if answered:
        events.append(
            {
                "type": "answered",
                "call_id": call_id,
                "time": "2026-11-05T09:00:09+03:00",
                "extension": "101",
            }
        )
    events.append(
        {
            "type": "hangup",
            "call_id": call_id,
            "time": "2026-11-05T09:01:00+03:00",
            "disposition": "answered" if answered else "no_answer",
            "talk_seconds": 51 if answered else 0,
            "wait_seconds": 9 if answered else 60,
        }
    )
    return events


@tagged("post_install", "-at_install")
class TestEventReceipts(TransactionCase):
    """Receipts of events are forgotten after the replay window, harmlessly."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.receptionist = new_test_user(
            cls.env,
            login="receipts_receptionist",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
        )
        cls.receptionist.pbx_extension = "101"
        cls.Receipt = cls.env["pbx.event.receipt"]

    def ingest(self, events):
        clean, errors = validate_batch({"events": events})
        self.assertFalse(errors)
        return self.env["pbx.call"]._ingest_events(self.connection, clean)

    def rings_sent(self):
        self.env.cr.precommit.run()
        return (
            self.env["bus.bus"]
            .sudo()
            .search_count([("message", "like", "pbx.call/ring")])
        )

    def test_old_receipts_are_deleted_and_a_late_replay_changes_nothing(self):
        number = "+7 916 555-77-01"
        batch = [
            *live_call("missed-1", number, answered=False),
            cdr_event(
                "callback-1",
                "2026-11-05T09:30:00+03:00",
                direction="outgoing",
                **{"from": "101", "to": number},
            ),
            *live_call("answered-1", "+7 916 555-77-02"),
        ]
        with freeze_time(NOW - timedelta(days=40)):
            self.assertEqual(self.ingest(batch)[:2], (len(batch), 0))
        with freeze_time(NOW - timedelta(days=2)):
            recent = [cdr_event("recent-1", "2026-11-18T10:00:00+03:00")]
            self.ingest(recent)
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)], order="external_id"
        )
        fields = ["state", "disposition", "talk_seconds", "wait_seconds", "user_id"]
        fields += ["called_back", "callback_call_id", "write_date", "merge_state"]
        before = calls.read(fields)
        rings = self.rings_sent()
        self.assertEqual(self.Receipt.search_count([]), len(batch) + 1)

        with freeze_time(NOW):
            self.Receipt._gc_old_receipts()
        self.assertEqual(
            self.Receipt.search_count([]), 1, "only the recent event is remembered"
        )

        with freeze_time(NOW):
            accepted, duplicates, _calls = self.ingest(batch + recent)
        self.assertEqual((accepted, duplicates), (len(batch), 1))
        self.env.invalidate_all()
        self.assertEqual(calls.read(fields), before)
        self.assertTrue(
            calls.filtered(lambda c: c.external_id == "missed-1").called_back
        )
        self.assertEqual(self.rings_sent(), rings, "no pop-up rings again")

    def test_the_replay_window_is_a_system_parameter(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "clinic_pbx.event_receipt_days", "3"
        )
        with freeze_time(NOW - timedelta(days=4)):
            self.ingest([cdr_event("c-4", "2026-11-16T10:00:00+03:00")])
        with freeze_time(NOW - timedelta(days=2)):
            self.ingest([cdr_event("c-2", "2026-11-18T10:00:00+03:00")])
        with freeze_time(NOW):
            self.Receipt._gc_old_receipts()
        self.assertEqual(self.Receipt.search_count([]), 1)

    def test_managers_see_only_their_companies_receipts(self):
        other = self.env["res.company"].create({"name": "Other Clinic"})
        other_connection, _token = make_connection(
            self.env, name="Other PBX", company=other
        )
        self.ingest([cdr_event("mine", "2026-11-05T09:00:00+03:00")])
        self.env["pbx.call"]._ingest_events(
            other_connection,
            validate_batch(
                {"events": [cdr_event("theirs", "2026-11-05T09:00:00+03:00")]}
            )[0],
        )
        manager = new_test_user(
            self.env,
            login="receipts_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        )
        receipts = self.Receipt.with_user(manager).search([])
        self.assertEqual(receipts.connection_id, self.connection)

    def test_a_call_keeps_a_bounded_list_of_extensions_that_rang(self):
        ringing = live_call("queue", "+7 916 555-77-03")[0]
        events = [
            dict(
                ringing,
                time=f"2026-11-05T09:{n:02d}:00+03:00",
                rang_extensions=[str(1000 + n * 100 + k) for k in range(100)],
            )
            for n in range(5)
        ]
        self.ingest(events[:3])
        self.ingest(events[3:])
        call = self.env["pbx.call"].search([("external_id", "=", "queue")])
        rang = call.sudo().merge_state["rang_extensions"]
        self.assertEqual(rang, sorted(rang))
        self.assertEqual(len(rang), 200)
        self.assertEqual(rang[0], "1000")
