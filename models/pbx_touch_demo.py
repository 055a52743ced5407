import random

import pytz

from odoo import api, fields, models

from ..tools.calltouch import parse_call, parse_request

# (utmSource, utmMedium, utmCampaign, landing page)
DEMO_SOURCES = [
    ("yandex", "cpc", "implants_msk", "https://clinic.example/implants"),
    ("google", "organic", None, "https://clinic.example/"),
    ("(direct)", "(none)", None, "https://clinic.example/contacts"),
    ("vk", "social", "spring_checkup", "https://clinic.example/checkup"),
    ("yandex", "cpc", "caries_msk", "https://clinic.example/caries"),
]
DEMO_TAGS = [["New patient"], ["Returning patient"], ["Booked a visit"], []]


class PbxTouch(models.Model):
    _inherit = "pbx.touch"

    @api.model
    def _demo_populate(self):
        """Touches for the demo: tracked calls matched to the demo calls, web
        requests with their leads, and visits logged by the reception.

        The tracked calls and requests are written in Calltouch's own format
        and go through the same import as the sync's.
        """
        rnd = random.Random(11)
        company = self.env.company
        calls = self.env["pbx.call"].search(
            [
                ("company_id", "=", company.id),
                ("direction", "=", "incoming"),
                ("external_key", "!=", False),
            ],
            order="start desc",
            limit=60,
        )
        zone = pytz.timezone(company.calltouch_timezone or "Europe/Moscow")
        raw_calls = []
        for index, call in enumerate(calls.filtered(lambda c: c.partner_id)[:40]):
            source, medium, campaign, page = DEMO_SOURCES[index % len(DEMO_SOURCES)]
            drift = rnd.randint(-90, 90)
            raw_calls.append(
                {
                    "callId": 418800000 + index,
                    "timestamp": int(call.start.timestamp()) + drift,
                    "callerNumber": call.external_key.lstrip("+"),
                    "phoneNumber": "74951234500",
                    "duration": call.talk_seconds,
                    "successful": call.disposition == "answered",
                    "uniqueCall": index % 3 == 0,
                    "targetCall": call.talk_seconds > 30,
                    "utmSource": source,
                    "utmMedium": medium,
                    "utmCampaign": campaign or "<не указано>",
                    "utmTerm": "dentist near me" if medium == "cpc" else None,
                    "url": page,
                    "callTags": [
                        {"category": "Category", "type": "MANUAL", "names": names}
                        for names in [DEMO_TAGS[index % len(DEMO_TAGS)]]
                        if names
                    ],
                }
            )
        self._calltouch_import_calls(
            company, [parse_call(raw, zone) for raw in raw_calls]
        )
        now = fields.Datetime.now()
        people = [
            ("Dmitry Kuznetsov", "79035550101", "d.kuznetsov@example.com"),
            ("Alina Lebedeva", "79265550202", None),
            ("Pavel Morozov", "79775550303", "pavel.morozov@example.com"),
        ]
        raw_requests = []
        for index, (name, phone, email) in enumerate(people):
            source, medium, campaign, page = DEMO_SOURCES[(0, 1, 3)[index]]
            raw_requests.append(
                {
                    "requestId": 55120000 + index,
                    "subject": "Consultation booking",
                    "date": int((now.timestamp() - 3600 * (5 + 20 * index)) * 1000),
                    "requestUrl": page + "#booking",
                    "targetRequest": True,
                    "client": {
                        "fio": name,
                        "phones": [{"phoneNumber": phone}],
                        "contacts": [{"contactType": "EMAIL", "contactValue": email}]
                        if email
                        else [],
                    },
                    "session": {
                        "url": page,
                        "utmSource": source,
                        "utmMedium": medium,
                        "utmCampaign": campaign,
                    },
                    "RequestTags": [
                        {
                            "category": "Type",
                            "type": "MANUAL",
                            "names": ["Consultation"],
                        }
                    ],
                }
            )
        self._calltouch_import_requests(
            company, [parse_request(raw, zone) for raw in raw_requests]
        )
        desk = self.env.ref("clinic_pbx.demo_user_anna", raise_if_not_found=False)
        walk_in = self.env["utm.source"].search([("name", "=", "Word of mouth")])
        walk_in = walk_in or self.env["utm.source"].create({"name": "Word of mouth"})
        patients = calls.partner_id[:5]
        self.create(
            [
                {
                    "channel": "visit",
                    "date": now,
                    "partner_id": patient.id,
                    "phone": patient.mobile or patient.phone,
                    "user_id": desk.id if desk else False,
                    "source_id": walk_in.id,
                    "comment": "Came on a friend's recommendation; booked a check-up.",
                }
                for patient in patients[:2]
            ]
        )
        return True
