from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.clinic_pbx import uninstall_hook
from odoo.addons.clinic_pbx.tools.call_events import validate_event
from odoo.addons.clinic_pbx.tools.phone import phone_key, search_variants

from .common import cdr_event, make_connection

RUSSIAN_FORMS = [
    "8 916 123-45-67",
    "+7 (916) 123-45-67",
    "79161234567",
    "9161234567",
    "8(916)1234567",
    "+79161234567",
    "0079161234567",
]


@tagged("post_install", "-at_install")
class TestPatientMatching(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.russia = cls.env.ref("base.ru")
        cls.Call = cls.env["pbx.call"]
        cls.seq = 0

    def ingest(self, **values):
        type(self).seq += 1
        raw = cdr_event(f"m{self.seq}", "2026-11-05T09:17:30+03:00", **values)
        _accepted, _dup, calls = self.Call._ingest_events(
            self.connection, [validate_event(0, raw)]
        )
        return calls

    def patient(self, name, **values):
        return self.env["res.partner"].create(
            {"name": name, "country_id": self.russia.id, **values}
        )

    def test_russian_forms_are_one_number(self):
        keys = {phone_key(form, "RU") for form in RUSSIAN_FORMS}
        self.assertEqual(keys, {"+79161234567"})

    def test_garbage_is_no_number_and_no_crash(self):
        for garbage in (
            "",
            "   ",
            "abc",
            "101",
            "12",
            "<img src=x>",
            "9" * 40,
            None,
            42,
            "+",
        ):
            self.assertFalse(phone_key(garbage, "RU"), repr(garbage))
        call = self.ingest(**{"from": "anonymous"})
        self.assertFalse(call.external_key)
        self.assertFalse(call.partner_ids)

    def test_a_patient_is_found_whatever_form_either_side_uses(self):
        patient = self.patient("Ivan Petrov", mobile="8 (916) 123-45-67")
        for form in RUSSIAN_FORMS:
            call = self.ingest(**{"from": form})
            self.assertEqual(call.partner_ids, patient, form)
            self.assertEqual(call.contact_display, "Ivan Petrov")

    def test_phone_and_mobile_both_match(self):
        patient = self.patient(
            "Olga Orlova", phone="+7 495 765-43-21", mobile="89035550011"
        )
        self.assertEqual(self.ingest(**{"from": "74957654321"}).partner_ids, patient)
        self.assertEqual(self.ingest(**{"from": "9035550011"}).partner_ids, patient)

    def test_outgoing_calls_match_the_dialled_number(self):
        patient = self.patient("Anna Sokolova", mobile="+79260001122")
        call = self.ingest(
            direction="outgoing", **{"from": "102", "to": "8 926 000-11-22"}
        )
        self.assertEqual(call.partner_ids, patient)

    def test_a_shared_number_keeps_every_candidate(self):
        mother = self.patient("Elena Volkova", mobile="+7 916 700-00-01")
        son = self.patient("Artem Volkov", phone="8 916 700 00 01")
        call = self.ingest(**{"from": "79167000001"})
        self.assertEqual(call.partner_ids, mother | son)
        self.assertEqual(call.partner_id, mother)
        self.assertEqual(call.contact_display, "Elena Volkova +1")
        self.assertEqual(call.contact_count, 2)

    def test_a_patient_created_later_is_linked_to_earlier_calls(self):
        first = self.ingest(**{"from": "8 916 300-30-30"})
        second = self.ingest(**{"from": "+7 916 300 30 30"})
        self.assertFalse(first.partner_ids)
        patient = self.patient("Late Patient", mobile="9163003030")
        self.assertEqual(first.partner_ids, patient)
        self.assertEqual(second.partner_ids, patient)
        self.assertEqual(first.contact_display, "Late Patient")

    def test_a_corrected_number_moves_the_patient_to_the_right_calls(self):
        wrong = self.ingest(**{"from": "89161110000"})
        right = self.ingest(**{"from": "89162220000"})
        patient = self.patient("Typo Patient", mobile="89161110000")
        self.assertEqual(wrong.partner_ids, patient)
        patient.mobile = "8 916 222-00-00"
        self.assertFalse(wrong.partner_ids)
        self.assertEqual(right.partner_ids, patient)

    def test_leads_are_contacts_too(self):
        lead = self.env["crm.lead"].create(
            {"name": "Implants", "partner_name": "Boris", "phone": "+7 903 111-22-33"}
        )
        call = self.ingest(**{"from": "89031112233"})
        self.assertEqual(call.lead_ids, lead)
        self.assertIn("Implants", call.contact_display)

    def test_a_patient_and_a_lead_of_one_number_are_both_kept(self):
        patient = self.patient("Maria Lebedeva", mobile="+7 916 404-40-40")
        lead = self.env["crm.lead"].create(
            {"name": "Whitening", "phone": "+7 916 404 40 40"}
        )
        archived = self.patient("Old Card", mobile="9164044040", active=False)
        other_company = self.env["res.company"].create({"name": "Other Clinic"})
        stranger = self.patient(
            "Other Clinic Patient", mobile="89164044040", company_id=other_company.id
        )
        call = self.ingest(**{"from": "79164044040"})
        self.assertEqual(call.partner_ids, patient)
        self.assertEqual(call.lead_ids, lead)
        self.assertNotIn(archived, call.partner_ids)
        self.assertNotIn(stranger, call.partner_ids)

    def test_uninstalling_leaves_no_lookup_function(self):
        uninstall_hook(self.env)
        self.env.cr.execute(
            "SELECT to_regprocedure('clinic_pbx_find_contacts(varchar[], integer)')"
        )
        self.assertEqual(self.env.cr.fetchone(), (None,))

    def test_partner_smart_button_counts_calls(self):
        patient = self.patient("Button Patient", mobile="+79164445566")
        self.ingest(**{"from": "89164445566"})
        self.ingest(**{"from": "9164445566"})
        self.assertEqual(patient.pbx_call_count, 2)
        action = patient.action_view_pbx_calls()
        self.assertEqual(self.Call.search_count(action["domain"]), 2)

    def test_search_by_partial_number_in_any_form(self):
        call = self.ingest(**{"from": "+7 (916) 987-65-43"})
        for text in ("987-65", "8 916 987", "+7916987", "9169876543", "98765"):
            found = self.Call.search([("number_search", "ilike", text)])
            self.assertIn(call, found, text)
        self.assertNotIn(call, self.Call.search([("number_search", "ilike", "555-55")]))
        self.assertEqual(search_variants("8 916"), ["8916", "916"])

    def test_search_by_patient_or_lead_name(self):
        self.patient("Zinaida Searchable", mobile="+79165550011")
        by_patient = self.ingest(**{"from": "89165550011"})
        self.env["crm.lead"].create({"name": "Veneers", "phone": "+7 903 555-00-12"})
        by_lead = self.ingest(**{"from": "89035550012"})
        self.assertEqual(
            self.Call.search([("number_search", "ilike", "zinaida search")]), by_patient
        )
        self.assertEqual(
            self.Call.search([("number_search", "ilike", "veneers")]), by_lead
        )

    def test_caller_lookup_is_an_index_hit_on_100k_partners(self):
        """The lookup of a caller must not scan the partner table."""
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO res_partner (name, active, type,
                                         pbx_mobile_key, create_date, write_date)
                SELECT 'Bulk ' || n, true, 'contact',
                       '+7916' || lpad(n::text, 7, '0'), now(), now()
                FROM generate_series(1, 120000) n
                """
            )
        )
        self.env.cr.execute("ANALYZE res_partner")
        keys = ["+79160054321"]
        query = (
            self.env["res.partner"]
            .sudo()
            ._search(
                [
                    "|",
                    ("pbx_phone_key", "in", keys),
                    ("pbx_mobile_key", "in", keys),
                    ("company_id", "in", [False, self.env.company.id]),
                ]
            )
        )
        self.env.cr.execute(SQL("EXPLAIN %s", query.select()))
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertNotIn("Seq Scan on res_partner", plan, plan)
        self.assertIn("res_partner__pbx_mobile_key_index", plan, plan)
        partners, _leads = self.Call._find_contacts(set(keys), self.env.company)
        self.assertEqual(len(partners["+79160054321"]), 1)
