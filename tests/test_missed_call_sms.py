"""The optional SMS to a caller we missed, through Odoo's sms module."""

from odoo.tests import tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event
from odoo.addons.sms.tests.common import SMSCase

from .common import cdr_event, clinic_calendar, make_connection, msk

CALLER = "+7 916 555-66-01"
KEY = "+79165556601"


@tagged("post_install", "-at_install")
class TestMissedCallSms(SMSCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.Call = cls.env["pbx.call"]
        cls.company = cls.env.company
        calendar = clinic_calendar(cls.env, "Clinic hours (SMS)")
        cls.company.write(
            {
                "name": "Smile Clinic",
                "resource_calendar_id": calendar.id,
                "pbx_missed_sms": True,
            }
        )
        cls.seq = 0

    def ingest(self, at, number=CALLER, **values):
        type(self).seq += 1
        raw = cdr_event(f"sms{self.seq}", at.isoformat(), **{"from": number, **values})
        with self.mockSMSGateway():
            calls = self.Call._ingest_events(self.connection, [validate_event(0, raw)])[
                2
            ]
        return calls

    def missed(self, at, number=CALLER, **values):
        return self.ingest(
            at, number, disposition="no_answer", talk_seconds=0, **values
        )

    def sms_to(self, number):
        return self.env["sms.sms"].sudo().search([("number", "=", number)])

    def test_a_missed_caller_gets_one_queued_sms_from_the_template(self):
        call = self.missed(msk(5, 12))
        self.assertSMSOutgoing(
            self.env["res.partner"],
            KEY,
            content="Smile Clinic: we missed your call and will call you back soon.",
        )
        self.assertFalse(self._sms, "queued for Odoo's SMS scheduler, not sent now")
        self.assertIn("we missed your call", call.message_ids[:1].body)

    def test_once_per_number_and_day(self):
        self.missed(msk(5, 12))
        self.missed(msk(5, 16))  # the same day: no second SMS
        self.assertEqual(len(self.sms_to(KEY)), 1)
        self.missed(msk(6, 9))  # the next day
        self.assertEqual(len(self.sms_to(KEY)), 2)

    def test_never_at_night_nor_at_the_weekend(self):
        self.missed(msk(5, 22))  # Thursday night
        self.missed(msk(7, 12))  # Saturday
        self.assertFalse(self.sms_to(KEY))

    def test_never_to_withheld_numbers_nor_for_internal_or_answered_calls(self):
        self.missed(msk(5, 12), number="anonymous")
        self.missed(msk(5, 12), direction="internal", number="102")
        self.ingest(msk(5, 12))  # answered
        self.assertFalse(
            self.env["sms.sms"]
            .sudo()
            .search([])
            .filtered(lambda sms: sms.number in (KEY, "anonymous", "102", False))
        )

    def test_off_by_default(self):
        self.company.pbx_missed_sms = False
        self.missed(msk(5, 12))
        self.assertFalse(self.sms_to(KEY))
        self.assertFalse(self.env["res.company"].new({}).pbx_missed_sms)
