"""Missed calls become Call back activities, closed when the clinic gets through."""

from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

T0 = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)  # 12:00 in Moscow
CALLER = "+7 916 555-12-34"
PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


@tagged("post_install", "-at_install")
class TestCallbackActivities(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.Call = cls.env["pbx.call"]
        cls.Activity = cls.env["mail.activity"].with_context(active_test=False)
        cls.call_back_type = cls.env.ref("clinic_pbx.mail_activity_type_call_back")
        cls.company = cls.env.company
        cls.company.pbx_callback_assignment = "extension"
        # Anna and Olga share the reception's extension 101; Boris is on 102.
        cls.anna = new_test_user(
            cls.env, login="cb_anna", name="Anna", groups=PBX_USER, pbx_extension="101"
        )
        cls.olga = new_test_user(
            cls.env, login="cb_olga", name="Olga", groups=PBX_USER, pbx_extension="101"
        )
        cls.boris = new_test_user(
            cls.env,
            login="cb_boris",
            name="Boris",
            groups=PBX_USER,
            pbx_extension="102",
        )
        cls.patient = cls.env["res.partner"].create(
            {"name": "Ivan Petrov", "mobile": CALLER}
        )
        cls.seq = 0

    def ingest(self, at, **values):
        type(self).seq += 1
        raw = cdr_event(f"cba{self.seq}", at.isoformat(), **values)
        return self.Call._ingest_events(self.connection, [validate_event(0, raw)])[2]

    def missed(self, at=T0, number=CALLER, extension="101"):
        return self.ingest(
            at,
            disposition="no_answer",
            talk_seconds=0,
            extension=extension,
            **{"from": number},
        )

    def call_back(self, at, number=CALLER, answered=True):
        return self.ingest(
            at,
            direction="outgoing",
            disposition="answered" if answered else "no_answer",
            talk_seconds=40 if answered else 0,
            extension="102",
            **{"from": "102", "to": number},
        )

    def callbacks(self):
        domain = [("activity_type_id", "=", self.call_back_type.id)]
        return self.Activity.search(domain, order="id")

    # ------------------------------------------------------------------
    # Opening and folding
    # ------------------------------------------------------------------

    def test_a_missed_call_opens_one_activity_on_the_patient(self):
        call = self.missed()
        activity = self.callbacks()
        self.assertEqual(len(activity), 1)
        self.assertEqual(call.callback_activity_id, activity)
        self.assertEqual(activity.res_model, "res.partner")
        self.assertEqual(activity.res_id, self.patient.id)
        self.assertEqual(activity.user_id, self.anna)
        self.assertTrue(activity.active)
        self.assertIn(activity, self.patient.activity_ids)
        self.assertEqual(str(activity.date_deadline), "2026-11-05")

    def test_three_attempts_make_one_activity_listing_each(self):
        self.missed(T0)
        self.missed(T0 + timedelta(minutes=10), number="8 916 555 12 34")
        self.missed(T0 + timedelta(minutes=25), extension="102")
        activity = self.callbacks()
        self.assertEqual(len(activity), 1, "three attempts, one activity")
        note = str(activity.note)
        self.assertIn("Missed 3×", note)
        self.assertEqual(note.count("<li>"), 3)
        self.assertIn("12:25", note, "attempts are listed in the clinic's time")
        self.assertIn("extension 102", note)
        self.assertEqual(activity.user_id, self.anna, "the owner stays")

    def test_a_family_number_lists_every_patient(self):
        self.env["res.partner"].create({"name": "Maria Petrova", "mobile": CALLER})
        self.missed()
        note = str(self.callbacks().note)
        self.assertIn("Ivan Petrov", note)
        self.assertIn("Maria Petrova", note)

    def test_a_lead_or_the_call_itself_holds_it_without_a_patient(self):
        lead = self.env["crm.lead"].create(
            {"name": "Implants", "phone": "+7 916 777-00-01"}
        )
        self.missed(number="+7 916 777-00-01")
        unknown = self.missed(number="+7 916 777-00-02")
        on_lead, on_call = self.callbacks()
        self.assertEqual((on_lead.res_model, on_lead.res_id), ("crm.lead", lead.id))
        self.assertEqual((on_call.res_model, on_call.res_id), ("pbx.call", unknown.id))
        self.assertEqual(unknown.activity_ids, on_call)

    def test_answered_internal_and_reached_calls_open_none(self):
        self.ingest(T0, **{"from": CALLER})
        self.ingest(
            T0,
            direction="internal",
            disposition="no_answer",
            talk_seconds=0,
            **{"from": "103", "to": "101"},
        )
        # The call back arrives before the missed call it answers (a CDR
        # read late): the missed call is reached already.
        self.call_back(T0 + timedelta(minutes=30))
        late = self.missed(T0)
        self.assertTrue(late.called_back)
        self.assertFalse(self.callbacks())

    def ingest_batch(self, raws):
        """One batch of raw events, as a PBX posts or a CDR sync reads them."""
        events = [validate_event(i, raw) for i, raw in enumerate(raws)]
        return self.Call._ingest_events(self.connection, events)[2]

    def missed_event(self, at, number, extension="101"):
        type(self).seq += 1
        return cdr_event(
            f"cba{self.seq}",
            at.isoformat(),
            disposition="no_answer",
            talk_seconds=0,
            extension=extension,
            **{"from": number},
        )

    def test_a_batch_of_missed_calls_opens_them_as_one_by_one(self):
        # Three callers, one of them twice, in one batch (a CDR sync's page).
        self.ingest_batch(
            [
                self.missed_event(T0, "+7 916 100-00-01"),
                self.missed_event(T0 + timedelta(minutes=1), CALLER),
                self.missed_event(T0 + timedelta(minutes=2), "+7 916 100-00-02"),
                self.missed_event(T0 + timedelta(minutes=3), CALLER, "102"),
            ]
        )
        first, on_patient, third = self.callbacks()
        self.assertEqual(
            [first.user_id, on_patient.user_id, third.user_id],
            [self.anna, self.olga, self.anna],
            "round-robin in the order of the calls, each pick counting",
        )
        self.assertEqual(on_patient.res_id, self.patient.id)
        self.assertIn("Missed 2×", str(on_patient.note), "one activity per number")
        self.assertIn("extension 102", str(on_patient.note))
        self.assertIn(
            self.olga.partner_id,
            self.patient.message_partner_ids,
            "the owner follows the patient, as with any activity",
        )
        self.assertEqual(self.patient.activity_ids, on_patient)
        rows = self.Call.search(
            [("callback_activity_id", "=", on_patient.id), ("callback_open", "=", True)]
        )
        self.assertEqual(len(rows), 1, "one row on Missed Calls")
        self.assertEqual(rows.callback_attempts, 2)
        self.assertEqual(
            rows.callback_first_attempt,
            (T0 + timedelta(minutes=1)).replace(tzinfo=None),
        )

    def test_a_batch_of_call_backs_closes_each_activity(self):
        self.missed(T0, number="+7 916 100-00-01")
        self.missed(T0, number="+7 916 100-00-02")
        self.missed(T0 + timedelta(minutes=1), number="+7 916 100-00-02")
        self.ingest_batch(
            [
                cdr_event(
                    f"cbb{n}",
                    (T0 + timedelta(minutes=30 + n)).isoformat(),
                    direction="outgoing",
                    extension="102",
                    **{"from": "102", "to": f"+7 916 100-00-0{n}"},
                )
                for n in (1, 2)
            ]
        )
        activities = self.callbacks()
        self.assertEqual(len(activities), 2)
        self.assertFalse(any(activities.mapped("active")), "both done")
        self.assertEqual(set(activities.mapped("date_done")), {fields.Date.today()})
        for activity in activities:
            body = str(self.feedback(activity).body)
            self.assertIn("Called back by Boris at", body)
            self.assertIn("Original note:", body)
            self.assertIn("Call back done (originally assigned to", body)
        self.assertFalse(
            self.Call.search_count(
                [
                    ("connection_id", "=", self.connection.id),
                    ("callback_open", "=", True),
                ]
            ),
            "Missed Calls is empty",
        )

    # ------------------------------------------------------------------
    # Who gets it
    # ------------------------------------------------------------------

    def test_round_robin_among_the_users_of_the_extension(self):
        for n in range(3):
            self.missed(number=f"+7 916 100-00-0{n}")
        self.assertEqual(
            [a.user_id for a in self.callbacks()], [self.anna, self.olga, self.anna]
        )

    def test_least_loaded_user_of_the_extension(self):
        self.company.pbx_callback_assignment = "least_loaded"
        self.missed(number="+7 916 100-00-01")  # Anna (nobody has any)
        self.missed(number="+7 916 100-00-02")  # Olga (Anna has one)
        self.callbacks()[1].action_feedback(feedback="Done on my mobile")
        # Olga got one last but has none open: round-robin would pick Anna.
        self.missed(number="+7 916 100-00-03")
        self.assertEqual(
            [a.user_id for a in self.callbacks()], [self.anna, self.olga, self.olga]
        )

    def test_dispatcher_and_the_fallbacks(self):
        dispatcher = new_test_user(
            self.env, login="cb_dispatcher", name="Dina", groups=PBX_USER
        )
        self.company.pbx_callback_dispatcher_id = dispatcher
        self.company.pbx_callback_assignment = "dispatcher"
        self.missed(number="+7 916 100-00-01")
        self.company.pbx_callback_assignment = "extension"
        # Extension 109 has no PBX user: the dispatcher.
        self.missed(number="+7 916 100-00-02", extension="109")
        # A dispatcher who is no longer a PBX user does not qualify: the
        # least loaded PBX Manager of the company gets it.
        dispatcher.groups_id = self.env.ref("base.group_user")
        self.missed(number="+7 916 100-00-03", extension="109")
        first, second, third = self.callbacks()
        self.assertEqual((first.user_id, second.user_id), (dispatcher, dispatcher))
        self.assertNotEqual(third.user_id, dispatcher)
        self.assertTrue(
            third.user_id.has_group("clinic_pbx.clinic_pbx_group_manager"),
            "an activity always has an owner: a PBX Manager of the company",
        )

    def test_nobody_means_no_activities(self):
        self.company.pbx_callback_assignment = "none"
        call = self.missed()
        self.assertTrue(call.missed)
        self.assertFalse(self.callbacks())

    # ------------------------------------------------------------------
    # Closing
    # ------------------------------------------------------------------

    def feedback(self, activity):
        return self.env["mail.message"].search(
            [
                ("model", "=", activity.res_model),
                ("res_id", "=", activity.res_id),
                ("mail_activity_type_id", "=", self.call_back_type.id),
            ]
        )

    def test_called_back_marks_it_done_saying_by_whom(self):
        self.missed()
        self.missed(T0 + timedelta(minutes=5))
        activity = self.callbacks()
        self.call_back(T0 + timedelta(minutes=42))
        self.assertFalse(activity.active, "done")
        self.assertEqual(activity.state, "done")
        body = str(self.feedback(activity).body)
        self.assertIn("Called back by Boris at", body)
        self.assertIn("12:42", body, "in the clinic's time")

    def test_the_patient_calling_again_and_answered_marks_it_done(self):
        self.missed()
        activity = self.callbacks()
        self.ingest(
            T0 + timedelta(hours=2),
            answered_extension="102",
            extension="102",
            **{"from": CALLER},
        )
        self.assertFalse(activity.active)
        body = str(self.feedback(activity).body)
        self.assertIn("The patient called again and was answered by", body)
        self.assertIn("2:00 PM", body, "in the clinic's time")

    def test_a_call_back_after_the_window_leaves_it_open(self):
        self.missed()
        self.call_back(T0 + timedelta(hours=24, minutes=1))
        self.assertTrue(self.callbacks().active)

    def test_an_unanswered_call_back_leaves_it_open(self):
        self.missed()
        self.call_back(T0 + timedelta(minutes=5), answered=False)
        self.assertTrue(self.callbacks().active)

    def test_done_by_hand_stays_done_and_the_next_miss_opens_another(self):
        self.missed()
        first = self.callbacks()
        first.action_feedback(feedback="Reached on WhatsApp")
        self.missed(T0 + timedelta(minutes=10))
        first_again, second = self.callbacks()
        self.assertEqual(first_again, first)
        self.assertFalse(first.active, "done by hand stays done")
        self.assertTrue(second.active)
        self.assertIn("Missed 1×", str(second.note))
        self.call_back(T0 + timedelta(minutes=30))
        self.assertFalse(second.active)
        self.assertEqual(len(self.feedback(first)), 2)

    # ------------------------------------------------------------------
    # The Missed Calls screen
    # ------------------------------------------------------------------

    def missed_calls(self, user):
        """The rows of PBX › Missed Calls as ``user`` reads them."""
        action = self.env.ref("clinic_pbx.pbx_call_action_missed_calls")
        return (
            self.env["pbx.call"]
            .with_user(user)
            .search_read(
                safe_eval(action.domain),
                ["src", "contact_display", "callback_attempts", "callback_owner_id"],
                order="callback_first_attempt, id",
            )
        )

    def test_missed_calls_lists_open_callbacks_oldest_first(self):
        manager = new_test_user(
            self.env,
            login="cb_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        )
        self.missed(T0 + timedelta(hours=1), number="+7 916 100-00-01")
        self.missed(T0)
        self.missed(T0 + timedelta(minutes=30))
        rows = self.missed_calls(manager)
        self.assertEqual(
            [(r["src"], r["contact_display"], r["callback_attempts"]) for r in rows],
            [(CALLER, "Ivan Petrov", 2), ("+7 916 100-00-01", False, 1)],
        )
        self.assertEqual(rows[0]["callback_owner_id"][0], self.olga.id)
        self.call_back(T0 + timedelta(minutes=40))
        rows = self.missed_calls(manager)
        self.assertEqual([r["src"] for r in rows], ["+7 916 100-00-01"])
        # Done by hand: gone too.
        self.callbacks()[0].action_feedback(feedback="Reached by e-mail")
        self.assertFalse(self.missed_calls(manager))

    def test_a_pbx_user_sees_the_missed_calls_of_their_extension_only(self):
        self.missed(number="+7 916 100-00-01")
        self.missed(number="+7 916 100-00-02", extension="102")
        self.assertEqual(
            [r["src"] for r in self.missed_calls(self.boris)], ["+7 916 100-00-02"]
        )

    def test_only_pbx_users_see_the_missed_calls(self):
        self.missed()
        outsider = new_test_user(
            self.env, login="cb_outsider", groups="base.group_user"
        )
        menu = self.env.ref("clinic_pbx.pbx_call_menu_missed_calls")
        Menu = self.env["ir.ui.menu"]
        self.assertNotIn(menu.id, Menu.with_user(outsider)._visible_menu_ids())
        self.assertIn(menu.id, Menu.with_user(self.anna)._visible_menu_ids())
        with self.assertRaises(AccessError):
            self.missed_calls(outsider)

    # ------------------------------------------------------------------
    # The pop-up card
    # ------------------------------------------------------------------

    def ring(self, call_id, at):
        event = {
            "type": "ringing",
            "call_id": call_id,
            "time": at.isoformat(),
            "direction": "incoming",
            "from": CALLER,
            "to": "+7 495 123-45-00",
            "extension": "101",
        }
        calls = self.Call._ingest_events(self.connection, [validate_event(0, event)])
        return calls[2]

    def test_the_card_of_a_caller_with_an_open_callback_says_so(self):
        self.assertFalse(
            self.ring("cb-ring-0", T0)._pbx_popup_ring_payload()["callback"]
        )
        self.missed(T0 + timedelta(minutes=1))
        self.missed(T0 + timedelta(minutes=5))
        ringing = self.ring("cb-ring-1", T0 + timedelta(minutes=9))
        self.assertEqual(
            ringing._pbx_popup_ring_payload()["callback"],
            {"attempts": 2, "owner": "Anna"},
        )
