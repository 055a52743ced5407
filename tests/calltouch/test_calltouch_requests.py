from datetime import timedelta

from odoo.tests import tagged

from ..fakes.calltouch_server import make_request
from .common import NOW, CalltouchCase, T


@tagged("post_install", "-at_install")
class TestCalltouchRequests(CalltouchCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.patient = cls.env["res.partner"].create(
            {"name": "Ольга Кузнецова", "phone": "+7 926 777-88-99"}
        )

    def test_a_web_request_becomes_a_touch_and_a_lead_with_utm(self):
        self.server.add_request(
            make_request(
                55120931,
                T,
                "79261112233",
                "Петров Сергей",
                client={
                    "fio": "Петров Сергей",
                    "phones": [
                        {"phoneNumber": "79261112233", "phoneType": "PHONE"},
                        {"phoneNumber": "79031234567", "phoneType": "PHONE"},
                    ],
                    "contacts": [
                        {"contactType": "EMAIL", "contactValue": "s.petrov@example.com"}
                    ],
                },
                session={
                    "url": "https://clinic.example/caries",
                    "source": "google",
                    "medium": "organic",
                    "utmSource": "yandex",
                    "utmMedium": "cpc",
                    "utmCampaign": "caries_msk",
                    "utmTerm": "лечение кариеса цена",
                },
                comments=[{"comment": "Перезвонить после 18:00"}],
            )
        )
        self.assertTrue(self.sync(), self.company.calltouch_last_error)
        asked = self.server.requests_to("requests")[0]
        self.assertEqual(asked["status"], 200)
        self.assertEqual(asked["params"]["dateFrom"], "01/25/2026")
        self.assertEqual(asked["params"]["siteId"], "67120")
        touch = self.touches(calltouch_request_id="55120931")
        self.assertEqual(touch.channel, "request")
        self.assertEqual(touch.date, T)
        self.assertEqual(touch.phone, "+79261112233")
        self.assertEqual(touch.subject, "Запись на консультацию")
        self.assertEqual(touch.landing_page, "https://clinic.example/caries")
        self.assertEqual(touch.comment, "Перезвонить после 18:00")
        self.assertEqual(touch.tag_ids.mapped("name"), ["Консультация"])
        lead = touch.lead_id
        self.assertTrue(lead)
        self.assertEqual(lead.contact_name, "Петров Сергей")
        self.assertEqual(lead.phone, "+79261112233")
        self.assertEqual(lead.mobile, "+79031234567")
        self.assertEqual(lead.email_from, "s.petrov@example.com")
        self.assertEqual(lead.source_id.name, "yandex")
        self.assertEqual(lead.medium_id.name, "cpc")
        self.assertEqual(lead.campaign_id.name, "caries_msk")
        self.assertEqual(lead.tag_ids.mapped("name"), ["Консультация"])
        self.assertEqual(lead.company_id, self.company)
        self.assertFalse(lead.user_id)
        self.assertIn("Перезвонить после 18:00", lead.description)
        self.assertEqual(lead.pbx_touch_count, 1)

    def test_placeholder_utm_falls_back_to_the_session_source(self):
        # make_request's session has "<не указано>" utm tags, google/organic.
        self.server.add_request(make_request(7001, T, "79262223344", "Анна"))
        self.assertTrue(self.sync())
        lead = self.touches(calltouch_request_id="7001").lead_id
        self.assertEqual(lead.source_id.name, "google")
        self.assertEqual(lead.medium_id.name, "organic")
        self.assertFalse(lead.campaign_id)

    def test_a_request_from_a_patient_links_the_patient(self):
        self.server.add_request(make_request(7002, T, "79267778899", "Ольга К."))
        self.assertTrue(self.sync())
        touch = self.touches(calltouch_request_id="7002")
        self.assertEqual(touch.partner_id, self.patient)
        self.assertEqual(touch.lead_id.partner_id, self.patient)
        # The patient's own phone is left as it was.
        self.assertEqual(self.patient.phone, "+7 926 777-88-99")

    def test_a_request_seen_again_updates_and_never_duplicates(self):
        raw = make_request(7003, T, "79264445566", "Иван")
        self.server.add_request(raw)
        self.assertTrue(self.sync())
        lead = self.touches(calltouch_request_id="7003").lead_id
        lead.write({"phone": "+7 999 000-00-00", "email_from": False})
        raw["client"]["contacts"] = [
            {"contactType": "EMAIL", "contactValue": "ivan@example.com"}
        ]
        raw["RequestTags"].append(
            {"category": "Итог", "type": "MANUAL", "names": ["Записан"]}
        )
        # Read the same period again (as after a manager set the cursor back).
        self.company.calltouch_synced_until = NOW - timedelta(hours=6)
        self.assertTrue(self.sync(now=NOW + timedelta(minutes=5)))
        touch = self.touches(calltouch_request_id="7003")
        self.assertEqual(len(touch), 1)
        self.assertEqual(touch.lead_id, lead)
        self.assertEqual(
            self.env["crm.lead"].search_count([("contact_name", "=", "Иван")]), 1
        )
        # What the staff wrote stays; what was empty is filled in.
        self.assertEqual(lead.phone, "+7 999 000-00-00")
        self.assertEqual(lead.email_from, "ivan@example.com")
        self.assertEqual(
            sorted(touch.tag_ids.mapped("name")), ["Записан", "Консультация"]
        )

    def test_requests_outside_the_window_times_are_not_asked_for(self):
        # The window is 08:55..15:00 in Moscow (05:55..12:00 UTC).
        self.server.add_request(
            make_request(7004, NOW - timedelta(hours=7), "79265556677", "Ранний")
        )
        self.server.add_request(make_request(7005, T, "79265556678", "В окне"))
        self.assertTrue(self.sync())
        self.assertEqual(
            self.touches(channel="request").mapped("calltouch_request_id"), ["7005"]
        )
        params = self.server.requests_to("requests")[0]["params"]
        self.assertEqual(
            (params["timeFrom"], params["timeTo"]), ("08:55:00", "15:00:00")
        )
