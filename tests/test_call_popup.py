import json
from datetime import timedelta
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.clinic_pbx.models.pbx_call_popup import _card_cache
from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

T0 = "2026-11-05T09:17:30+03:00"
PBX_USER = "base.group_user,clinic_pbx.clinic_pbx_group_user"


def ringing(call_id, caller="+7 916 123-45-67", extension="101", **values):
    return {
        "type": "ringing",
        "call_id": call_id,
        "time": T0,
        "direction": "incoming",
        "from": caller,
        "to": "+7 495 123-45-00",
        "extension": extension,
        **values,
    }


def answered(call_id, extension="101"):
    return {
        "type": "answered",
        "call_id": call_id,
        "time": "2026-11-05T09:17:42+03:00",
        "extension": extension,
    }


def hangup(call_id, disposition="no_answer"):
    return {
        "type": "hangup",
        "call_id": call_id,
        "time": "2026-11-05T09:18:10+03:00",
        "disposition": disposition,
        "talk_seconds": 0 if disposition != "answered" else 28,
        "wait_seconds": 12,
    }


class PopupCase(TransactionCase):
    """Users A, B, C share the reception extension 101; D has 102."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)

        def user(login, extension, groups=PBX_USER):
            return new_test_user(
                cls.env,
                login=login,
                name=login.title(),
                groups=groups,
                pbx_extension=extension,
            )

        cls.a = user("anna_popup", "101")
        cls.b = user("boris_popup", "101")
        cls.c = user("clara_popup", "101")
        cls.d = user("dmitri_popup", "102")
        cls.e = user("elena_popup", "104")
        # Has the reception extension but not the PBX User group.
        cls.f = user("fedor_popup", "101", groups="base.group_user")
        cls.patient = cls.env["res.partner"].create(
            {
                "name": "Vera Sokolova",
                "mobile": "+7 (916) 123-45-67",
                "ref": "P-0042",
                "country_id": cls.env.ref("base.ru").id,
            }
        )
        cls.Call = cls.env["pbx.call"]

    def ingest(self, *events):
        clean = [validate_event(i, raw) for i, raw in enumerate(events)]
        return self.Call._ingest_events(self.connection, clean)[2]

    def sent(self):
        """{type: {partner id: payload}} of the pop-up notifications written
        since the last call, as bus.bus stores them at commit."""
        self.env.cr.precommit.run()
        rows = self.env["bus.bus"].sudo().search([("id", ">", self.last_bus_id)])
        if rows:
            self.last_bus_id = max(rows.ids)
        result = {}
        for row in rows:
            message = json.loads(row.message)
            if not message["type"].startswith("pbx.call/"):
                continue
            db, model, partner_id = json.loads(row.channel)
            self.assertEqual((db, model), (self.env.cr.dbname, "res.partner"))
            by_partner = result.setdefault(message["type"], {})
            self.assertNotIn(partner_id, by_partner, "one notification per user")
            by_partner[partner_id] = message["payload"]
        return result

    def setUp(self):
        super().setUp()
        self.env.cr.precommit.run()
        self.last_bus_id = self.env["bus.bus"].sudo()._bus_last_id()

    def partners(self, *users):
        return {user.partner_id.id for user in users}

    def only_sent(self, kind, *users):
        """The payload to ``users[0]`` of the one kind of notification sent
        since the last call, which went to exactly ``users``."""
        sent = self.sent()
        self.assertEqual(list(sent), [kind])
        self.assertEqual(set(sent[kind]), self.partners(*users))
        return sent[kind][users[0].partner_id.id]


@tagged("post_install", "-at_install")
class TestCallPopupNotifications(PopupCase):
    def test_ringing_notifies_exactly_the_users_of_the_extension(self):
        call = self.ingest(ringing("c1"))
        payload = self.only_sent("pbx.call/ring", self.a, self.b, self.c)
        self.assertEqual(payload["call_id"], call.id)
        self.assertEqual(payload["caller"], "+7 916 123-45-67")
        self.assertEqual(payload["phone"], "+79161234567")
        self.assertEqual(payload["extension"], "101")
        self.assertEqual(
            [(p["id"], p["name"], p["ref"]) for p in payload["patients"]],
            [(self.patient.id, "Vera Sokolova", "P-0042")],
        )

    def test_notifications_are_written_only_when_the_transaction_commits(self):
        self.ingest(ringing("c1"))
        self.assertFalse(
            self.env["bus.bus"].sudo().search([("id", ">", self.last_bus_id)]),
            "bus rows must wait for the commit",
        )
        self.assertIn("pbx.call/ring", self.sent())

    def test_a_replayed_ringing_notifies_nobody(self):
        self.ingest(ringing("c1"))
        self.sent()
        self.ingest(ringing("c1"))
        self.assertEqual(self.sent(), {})

    def test_take_by_b_closes_the_others_cards_with_b_name(self):
        call = self.ingest(ringing("c1"))
        self.sent()
        result = call.with_user(self.b).action_pbx_take()
        self.assertEqual(
            result, {"taken": True, "user_id": self.b.id, "user_name": self.b.name}
        )
        sent = self.sent()
        self.assertEqual(list(sent), ["pbx.call/taken"])
        taken = sent["pbx.call/taken"]
        # B's own other tabs learn it too (their card says "you took it").
        self.assertEqual(set(taken), self.partners(self.a, self.b, self.c))
        for partner_id in self.partners(self.a, self.c):
            self.assertEqual(taken[partner_id]["user_id"], self.b.id)
            self.assertEqual(taken[partner_id]["user_name"], self.b.name)
        self.assertEqual(call.user_id, self.b)

        # The PBX then reports the answer on the shared extension: the Admin
        # stays B and the cards close with B's name.
        self.ingest(answered("c1", "101"))
        taken = self.sent()["pbx.call/taken"]
        self.assertEqual(set(taken), self.partners(self.a, self.b, self.c))
        self.assertEqual(taken[self.a.partner_id.id]["user_name"], self.b.name)

    def test_first_take_wins(self):
        call = self.ingest(ringing("c1"))
        call.with_user(self.b).action_pbx_take()
        self.sent()
        result = call.with_user(self.c).action_pbx_take()
        self.assertEqual(result["taken"], False)
        self.assertEqual(result["user_name"], self.b.name)
        self.assertEqual(self.sent(), {})
        self.assertEqual(call.user_id, self.b)

    def test_only_users_the_call_rang_may_take_it(self):
        call = self.ingest(ringing("c1"))
        with self.assertRaises(AccessError):
            call.with_user(self.d).action_pbx_take()
        self.assertFalse(call.user_id)

    def test_an_ended_call_cannot_be_taken(self):
        call = self.ingest(ringing("c1"), hangup("c1"))
        with self.assertRaises(UserError):
            call.with_user(self.a).action_pbx_take()

    def test_answer_on_a_personal_extension_names_its_user(self):
        self.ingest(ringing("c1", rang_extensions=["101", "104"]))
        self.assertEqual(
            set(self.sent()["pbx.call/ring"]),
            self.partners(self.a, self.b, self.c, self.e),
        )
        self.ingest(answered("c1", "104"))
        taken = self.sent()["pbx.call/taken"]
        self.assertEqual(set(taken), self.partners(self.a, self.b, self.c, self.e))
        self.assertEqual(taken[self.a.partner_id.id]["user_name"], self.e.name)

    def test_answer_on_the_shared_extension_without_a_claim_says_where(self):
        self.ingest(ringing("c1"))
        self.sent()
        self.ingest(answered("c1", "101"))
        taken = self.sent()["pbx.call/taken"]
        self.assertEqual(set(taken), self.partners(self.a, self.b, self.c))
        self.assertEqual(
            taken[self.a.partner_id.id],
            {
                "call_id": taken[self.a.partner_id.id]["call_id"],
                "user_id": False,
                "user_name": False,
                "extension": "101",
            },
        )

    def test_unanswered_hangup_closes_the_cards_as_missed(self):
        call = self.ingest(ringing("c1"))
        self.sent()
        self.ingest(hangup("c1"))
        sent = self.sent()
        self.assertEqual(list(sent), ["pbx.call/missed"])
        self.assertEqual(
            set(sent["pbx.call/missed"]), self.partners(self.a, self.b, self.c)
        )
        self.assertEqual(
            sent["pbx.call/missed"][self.a.partner_id.id], {"call_id": call.id}
        )

    def test_finished_calls_from_the_cdr_open_no_pop_up(self):
        self.ingest(cdr_event("old", T0))
        self.assertEqual(self.sent(), {})

    def test_a_cdr_sync_of_recent_calls_names_each_taker_at_once(self):
        # A CDR sync brings the calls of the last minutes together; the
        # cards still open for them close as taken, each naming its taker.
        now = fields.Datetime.now().replace(microsecond=0)
        recent = (now - timedelta(seconds=60)).isoformat() + "+00:00"
        takers = [
            new_test_user(
                self.env,
                login="doctor%d_popup" % n,
                name="Doctor %d" % n,
                groups=PBX_USER,
                pbx_extension=str(121 + n),
            )
            for n in range(5)
        ]
        events = [
            cdr_event(
                "sync-%d" % n,
                recent,
                extension=user.pbx_extension,
                rang_extensions=[user.pbx_extension],
            )
            for n, user in enumerate(takers)
        ]
        cr = self.env.cr
        original = type(cr).execute
        lookups = []

        def watching(cursor, query, params=None, log_exceptions=True):
            if "FROM res_users u" in str(query) and "p.name" in str(query):
                lookups.append(query)
            return original(cursor, query, params, log_exceptions)

        with patch.object(type(cr), "execute", watching):
            self.ingest(*events)
        taken = self.sent()["pbx.call/taken"]
        self.assertEqual(
            {taken[user.partner_id.id]["user_name"] for user in takers},
            {user.name for user in takers},
        )
        for user in takers:
            self.assertEqual(taken[user.partner_id.id]["user_id"], user.id)
        self.assertEqual(len(lookups), 1, "the takers' names in one statement")

    def test_outgoing_and_internal_calls_open_no_pop_up(self):
        self.ingest(ringing("out", direction="outgoing"))
        self.ingest(ringing("int", direction="internal", caller="102"))
        self.assertEqual(self.sent(), {})

    def test_pbx_managers_on_the_extension_get_it_too(self):
        manager = new_test_user(
            self.env,
            login="manager_popup",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
            pbx_extension="101",
        )
        self.ingest(ringing("c1"))
        self.assertEqual(
            set(self.sent()["pbx.call/ring"]),
            self.partners(self.a, self.b, self.c, manager),
        )

    def test_archived_users_get_nothing(self):
        self.c.active = False
        self.ingest(ringing("c1"))
        self.assertEqual(
            set(self.sent()["pbx.call/ring"]), self.partners(self.a, self.b)
        )

    def test_who_gets_the_next_call_follows_changes_to_users_at_once(self):
        self.ingest(ringing("c1"))
        self.assertEqual(
            set(self.sent()["pbx.call/ring"]), self.partners(self.a, self.b, self.c)
        )
        # Between two calls: Clara is archived, Boris leaves the PBX group,
        # Fedor joins it, Anna moves to another desk, Elena to reception.
        self.c.active = False
        self.env.ref("clinic_pbx.clinic_pbx_group_user").write(
            {"users": [Command.unlink(self.b.id), Command.link(self.f.id)]}
        )
        self.a.pbx_extension = "102"
        self.e.pbx_extension = "101"
        self.ingest(ringing("c2"))
        self.assertEqual(
            set(self.sent()["pbx.call/ring"]), self.partners(self.e, self.f)
        )


@tagged("post_install", "-at_install")
class TestCallPopupPayload(PopupCase):
    def test_unknown_number_has_no_patient_or_lead(self):
        self.ingest(ringing("c1", caller="+7 999 000-00-01"))
        payload = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.assertEqual(payload["caller"], "+7 999 000-00-01")
        self.assertEqual((payload["patients"], payload["leads"]), ([], []))

    def test_html_in_a_patient_s_name_is_passed_as_plain_text(self):
        """A caller's number cannot carry HTML (the Event API refuses it); a
        patient's name can, and reaches the card as the text it is."""
        name = "<img src=x onerror=alert(1)>"
        self.patient.name = name
        self.ingest(ringing("c1", caller="+7 916 123-45-67"))
        payload = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.assertEqual([p["name"] for p in payload["patients"]], [name])

    def test_patient_details_last_call_and_open_leads(self):
        self.ingest(
            cdr_event(
                "earlier",
                "2026-11-01T10:00:00+03:00",
                **{"from": "8 916 123 45 67", "extension": "102"},
            )
        )
        Lead = self.env["crm.lead"]
        open_lead = Lead.create(
            {
                "name": "Dental check-up",
                "partner_id": self.patient.id,
                "type": "opportunity",
            }
        )
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        Lead.create(
            {
                "name": "Old won deal",
                "partner_id": self.patient.id,
                "type": "opportunity",
                "stage_id": won_stage.id,
            }
        )
        number_lead = Lead.create(
            {"name": "Web request", "phone": "+7 916 765-43-21", "type": "lead"}
        )
        self.sent()
        self.ingest(ringing("c1"))
        known = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.ingest(ringing("c2", caller="89167654321"))
        lead_only = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.assertEqual(known["caller"], "+7 916 123-45-67")
        patient = known["patients"][0]
        self.assertEqual(patient["last_call"]["user_name"], self.d.name)
        self.assertEqual(patient["last_call"]["disposition"], "Answered")
        self.assertEqual(patient["last_call"]["start"], "2026-11-01 07:00:00")
        self.assertEqual(
            patient["leads"],
            [
                {
                    "id": open_lead.id,
                    "name": "Dental check-up",
                    "stage": open_lead.stage_id.name,
                }
            ],
        )
        self.assertEqual(lead_only["patients"], [])
        self.assertEqual([lead["id"] for lead in lead_only["leads"]], [number_lead.id])

    def test_log_a_touch_opens_the_touch_form_for_the_chosen_patient(self):
        sister = self.env["res.partner"].create(
            {
                "name": "Sister",
                "mobile": self.patient.mobile,
                "country_id": self.patient.country_id.id,
            }
        )
        earlier = self.env["pbx.touch"].create(
            {
                "partner_id": self.patient.id,
                "channel": "request",
                "date": "2026-11-01 10:00:00",
            }
        )
        call = self.ingest(ringing("c1"))
        payload = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        last = {p["id"]: p["last_touch"] for p in payload["patients"]}
        self.assertEqual(
            last[self.patient.id],
            {"name": earlier.display_name, "date": "2026-11-01 10:00:00"},
        )
        self.assertFalse(last[sister.id])
        action = call.with_user(self.a).action_pbx_log_touch(sister.id)
        self.assertEqual(action["res_model"], "pbx.touch")
        context = action["context"]
        self.assertEqual(context["default_call_id"], call.id)
        self.assertEqual(context["default_partner_id"], sister.id)
        self.assertEqual(context["default_phone"], "+79161234567")
        touch = (
            self.env["pbx.touch"].with_user(self.a).with_context(**context).create({})
        )
        self.assertEqual((touch.call_id, touch.partner_id), (call, sister))

    def test_the_last_touch_comes_from_the_call_s_company_only(self):
        # Vera is a contact of both clinics; the other one logged a visit.
        other = self.env["res.company"].create({"name": "Other Clinic (popup)"})
        self.env["pbx.touch"].create(
            {
                "partner_id": self.patient.id,
                "company_id": other.id,
                "channel": "visit",
                "date": "2026-11-04 10:00:00",
            }
        )
        self.ingest(ringing("c1"))
        payload = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.assertFalse(payload["patients"][0]["last_touch"])
        ours = self.env["pbx.touch"].create(
            {
                "partner_id": self.patient.id,
                "channel": "request",
                "date": "2026-11-01 10:00:00",
            }
        )
        self.ingest(ringing("c2"))
        payload = self.sent()["pbx.call/ring"][self.a.partner_id.id]
        self.assertEqual(
            payload["patients"][0]["last_touch"],
            {"name": ours.display_name, "date": "2026-11-01 10:00:00"},
        )


@tagged("post_install", "-at_install")
class TestRingingOnOpen(PopupCase):
    def test_a_user_opening_odoo_sees_the_calls_ringing_for_them(self):
        call = self.ingest(ringing("c1"))
        self.ingest(ringing("c2", extension="102"))
        Call = self.env["pbx.call"]
        self.assertEqual(
            [p["call_id"] for p in Call.with_user(self.a).pbx_popup_ringing()],
            [call.id],
        )
        self.assertEqual(Call.with_user(self.f).pbx_popup_ringing(), [])
        self.ingest(answered("c1"))
        self.assertEqual(Call.with_user(self.a).pbx_popup_ringing(), [])

    def test_calls_ringing_for_too_long_are_not_shown(self):
        call = self.ingest(ringing("c1"))
        self.env.cr.execute(
            "UPDATE pbx_call SET create_date = %s, write_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(minutes=10),) * 2 + (call.id,),
        )
        call.invalidate_recordset(["create_date", "write_date"])
        self.assertEqual(self.env["pbx.call"].with_user(self.a).pbx_popup_ringing(), [])

    def test_a_call_that_waited_in_a_queue_rings_in_full(self):
        call = self.ingest(ringing("c1", extension="102"))
        self.env.cr.execute(
            "UPDATE pbx_call SET create_date = %s, write_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(minutes=10),) * 2 + (call.id,),
        )
        call.invalidate_recordset(["create_date", "write_date"])
        # Ten minutes later a phone of the shared extension 101 rings.
        self.ingest(
            ringing(
                "c1", time="2026-11-05T09:27:30+03:00", rang_extensions=["101", "102"]
            )
        )
        (payload,) = self.env["pbx.call"].with_user(self.a).pbx_popup_ringing()
        self.assertEqual(payload["call_id"], call.id)
        self.assertGreater(payload["expires_in"], 250)


@tagged("post_install", "-at_install")
class TestCallPopupUpdates(PopupCase):
    """A patient created while the call shows turns the card to them."""

    def now(self, minutes=0):
        moment = fields.Datetime.now() + timedelta(minutes=minutes)
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def test_a_patient_created_during_the_call_shows_on_its_cards(self):
        call = self.ingest(ringing("c1", caller="+7 999 000-00-01", time=self.now()))
        ring = self.sent()["pbx.call/ring"]
        self.assertEqual(ring[self.a.partner_id.id]["patients"], [])
        self.assertTrue(call.with_user(self.a).action_pbx_take()["taken"])
        self.sent()
        # Anna, who may create contacts, presses "Create patient" on her card
        # and saves the contact.
        self.a.groups_id |= self.env.ref("base.group_partner_manager")
        patient = (
            self.env["res.partner"]
            .with_user(self.a)
            .create({"name": "Nina Orlova", "phone": "+7 999 000-00-01"})
        )
        payload = self.only_sent("pbx.call/update", self.a, self.b, self.c)
        self.assertEqual(payload["call_id"], call.id)
        self.assertEqual(
            [(p["id"], p["name"]) for p in payload["patients"]],
            [(patient.id, "Nina Orlova")],
        )
        self.assertEqual(call.partner_id, patient)
        # A contact edit that changes no call's patients sends nothing.
        patient.with_user(self.a).write({"name": "Nina Orlova-Petrova"})
        patient.with_user(self.a).write({"mobile": "+7 999 000-00-02"})
        self.assertEqual(self.sent(), {})

    def test_the_updated_card_has_the_new_patients_touches(self):
        # A web request from the caller's number came in before the call.
        self.env["pbx.touch"].create({"phone": "+7 999 000-00-04", "channel": "visit"})
        self.ingest(ringing("c4", caller="+7 999 000-00-04", time=self.now()))
        self.sent()
        patient = self.env["res.partner"].create(
            {"name": "Olga Lebedeva", "mobile": "+7 999 000-00-04"}
        )
        patient.write({"phone": "+7 999 000-00-05"})
        payload = self.only_sent("pbx.call/update", self.a, self.b, self.c)
        (card_patient,) = payload["patients"]
        self.assertEqual(card_patient["id"], patient.id)
        self.assertTrue(card_patient["last_touch"])

    def test_calls_of_more_than_an_hour_ago_have_no_card_to_update(self):
        call = self.ingest(
            ringing("old", caller="+7 999 000-00-03", time=self.now(-61)),
            hangup("old"),
        )
        self.sent()
        patient = self.env["res.partner"].create(
            {"name": "Oleg Sidorov", "mobile": "+7 999 000-00-03"}
        )
        self.assertEqual(call.partner_id, patient)
        self.assertEqual(self.sent(), {})

    def test_each_phone_of_a_ring_group_gets_the_card_read_once(self):
        # Every phone of the ring group rings in its own request, each
        # committed before the next; between them, the receptionist who took
        # the first card saves the caller's sister as a new patient.
        self.addCleanup(_card_cache.clear)
        Model = type(self.Call)
        build = Model._pbx_popup_build_people
        built = []

        def counted(call):
            built.append(call.id)
            return build(call)

        def ring(extension):
            self.ingest(ringing("g1", extension=extension, time=self.now()))
            sent = self.sent()
            self.env.cr.postcommit.run()  # what the request's commit runs
            return sent

        with patch.object(Model, "_pbx_popup_build_people", counted):
            for extension in ("101", "102"):
                card = ring(extension)["pbx.call/ring"][self.a.partner_id.id]
                self.assertEqual(
                    [p["name"] for p in card["patients"]], ["Vera Sokolova"]
                )
            self.assertEqual(len(built), 1)
            sister = self.env["res.partner"].create(
                {"name": "Sister", "mobile": self.patient.mobile}
            )
            update = self.sent()["pbx.call/update"][self.a.partner_id.id]
            self.env.cr.postcommit.run()
            card = ring("104")["pbx.call/ring"][self.e.partner_id.id]
        expected = {self.patient.id, sister.id}
        self.assertEqual({p["id"] for p in update["patients"]}, expected)
        self.assertEqual({p["id"] for p in card["patients"]}, expected)
        self.assertEqual(len(built), 2)
