"""Clinic numbers: calls to a published number carry its ad source."""

from datetime import datetime, timedelta, timezone

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection

T0 = datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc)
CALLER = "+7 916 555-88-01"
GIS_DID = "+7 495 777-00-01"


@tagged("post_install", "-at_install")
class TestClinicNumbers(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, _token = make_connection(cls.env)
        cls.Call = cls.env["pbx.call"]
        cls.Touch = cls.env["pbx.touch"]
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.ru")
        cls.gis = cls.env["utm.source"].create({"name": "2GIS"})
        cls.maps = cls.env["utm.medium"].create({"name": "Maps"})
        cls.spring = cls.env["utm.campaign"].create({"name": "Spring checkup"})
        cls.number = cls.env["pbx.clinic.number"].create(
            {
                "name": "2GIS card",
                # as printed on the card; the PBX writes the DID its own way
                "number": "8 (495) 777-00-01",
                "source_id": cls.gis.id,
                "medium_id": cls.maps.id,
                "campaign_id": cls.spring.id,
            }
        )
        cls.patient = cls.env["res.partner"].create(
            {"name": "Olga Smirnova", "mobile": CALLER}
        )
        cls.seq = 0

    def ingest(self, at=T0, did=GIS_DID, number=CALLER, call_id=None, **values):
        if call_id is None:
            type(self).seq += 1
            call_id = f"cn{self.seq}"
        raw = cdr_event(
            call_id, at.isoformat(), did=did, to=did, **{"from": number}, **values
        )
        return self.Call._ingest_events(self.connection, [validate_event(0, raw)])[2]

    def touches(self, call):
        return self.Touch.search([("call_id", "=", call.id)])

    def test_a_number_that_cannot_be_dialled_is_refused(self):
        with self.assertRaises(ValidationError):
            self.env["pbx.clinic.number"].create({"name": "Flyer", "number": "12"})

    def test_a_call_to_a_clinic_number_gets_its_source_and_one_touch(self):
        call = self.ingest()
        self.assertEqual(call.clinic_number_id, self.number)
        self.assertEqual(
            (call.source_id, call.medium_id, call.campaign_id),
            (self.gis, self.maps, self.spring),
        )
        touch = self.touches(call)
        self.assertEqual(len(touch), 1)
        self.assertEqual(touch.origin, "clinic_number")
        self.assertEqual(touch.source_id, self.gis)
        self.assertEqual(touch.campaign_id, self.spring)
        self.assertEqual(touch.partner_id, self.patient)
        self.assertEqual(touch.tracking_number, "8 (495) 777-00-01")

    def test_replays_and_later_events_keep_one_touch(self):
        event = cdr_event("cn-live", T0.isoformat(), did=GIS_DID, **{"from": CALLER})
        for _attempt in range(2):
            self.Call._ingest_events(self.connection, [validate_event(0, event)])
        later = dict(event, type="cdr", talk_seconds=95)
        call = self.Call._ingest_events(self.connection, [validate_event(0, later)])[2]
        self.assertEqual(len(self.touches(call)), 1)

    def test_other_numbers_and_outgoing_calls_are_not_attributed(self):
        other = self.ingest(did="+7 495 123-45-00")
        outgoing = self.ingest(
            direction="outgoing", number="101", did=GIS_DID, extension="101"
        )
        for call in other | outgoing:
            self.assertFalse(call.clinic_number_id)
            self.assertFalse(call.source_id)
            self.assertFalse(self.touches(call))

    def test_an_archived_number_no_longer_attributes(self):
        self.number.active = False
        self.assertFalse(self.ingest().clinic_number_id)

    def test_calltouch_wins_when_its_touch_arrives_later(self):
        call = self.ingest()
        yandex = self.env["utm.source"].create({"name": "yandex"})
        tracked = self.Touch.create(
            {
                "origin": "calltouch",
                "calltouch_call_id": "ct-1",
                "channel": "call",
                "date": call.start,
                "phone": CALLER,
                "source_id": yandex.id,
                "call_id": call.id,
            }
        )
        self.assertEqual(self.touches(call), tracked, "never two touches")
        self.assertEqual(call.source_id, yandex)
        self.assertFalse(call.campaign_id)

    def test_calltouch_wins_when_its_touch_was_waiting(self):
        self.company.write({"calltouch_enabled": True, "calltouch_time_lag": 5})
        yandex = self.env["utm.source"].create({"name": "yandex"})
        waiting = self.Touch.create(
            {
                "origin": "calltouch",
                "calltouch_call_id": "ct-2",
                "channel": "call",
                "date": (T0 + timedelta(minutes=1)).replace(tzinfo=None),
                "phone": CALLER,
                "source_id": yandex.id,
            }
        )
        call = self.ingest()
        self.assertEqual(self.touches(call), waiting)
        self.assertEqual(call.source_id, yandex)
        self.assertEqual(call.clinic_number_id, self.number)

    def test_first_contacts_and_new_callers_per_source(self):
        first = self.ingest()
        again = self.ingest(at=T0 + timedelta(hours=2))
        other = self.ingest(number="+7 916 555-88-02", did="+7 495 123-45-00")
        self.assertTrue(first.first_contact)
        self.assertFalse(again.first_contact)
        self.assertTrue(other.first_contact)
        groups = self.Call.read_group(
            [("connection_id", "=", self.connection.id)],
            ["new_caller_count:sum"],
            ["source_id"],
        )
        by_source = {
            group["source_id"] and group["source_id"][0]: group["new_caller_count"]
            for group in groups
        }
        self.assertEqual(by_source, {self.gis.id: 1, False: 1})
        # and the touches analysis groups by the same source
        touches = self.Touch.read_group(
            [("call_id", "in", (first | again).ids)], ["__count"], ["source_id"]
        )
        self.assertEqual(
            [(g["source_id"][0], g["source_id_count"]) for g in touches],
            [(self.gis.id, 2)],
        )

    def test_a_call_read_late_takes_the_first_contact(self):
        later = self.ingest(at=T0 + timedelta(hours=3), number="+7 916 555-88-03")
        self.assertTrue(later.first_contact)
        earlier = self.ingest(at=T0, number="+7 916 555-88-03")
        self.assertTrue(earlier.first_contact)
        self.assertFalse(later.first_contact)
