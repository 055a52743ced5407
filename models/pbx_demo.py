"""The demo: patients, a month of calls, touches and Callmarker results.

Called by the demo XML files (``<function model="pbx.demo" .../>``). Every
record enters through the path a real clinic's data takes: calls through
``pbx.call._ingest_events``, Calltouch records through the sync's import,
Callmarker results through the adapter's parser and the method that stores
pulled results. The data itself is in tools/demo_data.py.
"""

from collections import defaultdict
from datetime import datetime, time, timedelta

import pytz

from odoo import Command, api, fields, models

from ..tools import callmarker_adapter, demo_data
from ..tools.call_events import validate_event
from ..tools.calltouch import parse_call, parse_request

DEMO_RECORDINGS = (
    "clinic_pbx/static/demo/recordings/demo-consultation.wav",
    "clinic_pbx/static/demo/recordings/demo-booking.wav",
)


class PbxDemo(models.AbstractModel):
    _name = "pbx.demo"
    _description = "Clinic PBX demo data"

    @api.model
    def _populate_clinic_hours(self):
        """The demo company works as a clinic: Monday to Friday 8:00-20:00,
        Saturday 9:00-15:00 (Moscow), closed on Unity Day (4 November).

        The company's own working schedule is changed rather than replaced:
        a schedule of the module's data would be removed with the module
        while the company still uses it.
        """
        company = self.env.ref("base.main_company")
        calendar = company.resource_calendar_id
        if not calendar:
            return
        days = [(str(day), 8, 20) for day in range(5)] + [("5", 9, 15)]
        calendar.write(
            {
                "tz": "Europe/Moscow",
                "attendance_ids": [Command.clear()]
                + [
                    Command.create(
                        {
                            "name": f"Clinic day {day}",
                            "dayofweek": day,
                            "hour_from": begin,
                            "hour_to": end,
                            "day_period": "morning",
                        }
                    )
                    for day, begin, end in days
                ],
            }
        )
        moscow = pytz.timezone("Europe/Moscow")
        unity_day = fields.Date.today().replace(month=11, day=4)
        start = moscow.localize(datetime.combine(unity_day, time()))
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Unity Day",
                "calendar_id": calendar.id,
                "date_from": start.astimezone(pytz.utc).replace(tzinfo=None),
                "date_to": (start + timedelta(days=1, seconds=-1))
                .astimezone(pytz.utc)
                .replace(tzinfo=None),
                "time_type": "leave",
            }
        )

    @api.model
    def _populate_calls(self, connection_ids):
        """Fill a demo connection with patients and a month of calls.

        Calls are fed to the same ingestion method as a real PBX's events.
        """
        connection = self.env["pbx.connection"].browse(connection_ids)
        Partner = self.env["res.partner"]
        russia = self.env.ref("base.ru")
        people = demo_data.patients()
        Partner.create(
            [
                {
                    "name": person["name"],
                    "phone": person["phone"],
                    "mobile": person["mobile"],
                    "country_id": russia.id,
                    "comment": "Demo patient",
                }
                for person in people
            ]
        )
        # sudo: demo loader (installing the module, as superuser): reads web.base.url
        #   only
        base_url = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("web.base.url", "http://localhost:8069")
        )
        urls = tuple(f"{base_url.rstrip('/')}/{path}" for path in DEMO_RECORDINGS)
        # Recordings are fetched from loopback only under a Recordings URL.
        connection.recordings_base_url = "%s/%s" % (
            base_url.rstrip("/"),
            DEMO_RECORDINGS[0].rsplit("/", 1)[0] + "/",
        )
        raw_events, claims = demo_data.month_of_calls(
            fields.Datetime.now(),
            [person["digits"] for person in people],
            recording_urls=urls,
        )
        events = [validate_event(index, raw) for index, raw in enumerate(raw_events)]
        Call = self.env["pbx.call"]
        # Posted hour by hour, as a PBX posts its calls when they end: a
        # missed call opens its callback, and a call back in a later hour
        # marks it done.
        by_hour = defaultdict(list)
        for event in sorted(events, key=lambda event: event["time"]):
            by_hour[event["time"].replace(minute=0, second=0, microsecond=0)].append(
                event
            )
        for hour_events in by_hour.values():
            Call._ingest_events(connection, hour_events)
        receptionists = self.env["res.users"]._pbx_users_by_extension(
            ["101"], connection.company_id
        )
        desk = self.env["res.users"].browse(receptionists.get("101", []))
        # sudo: demo loader: only the demo connection's calls, to claim them for the
        #   demo desk
        calls = Call.sudo().search(
            [
                ("connection_id", "=", connection.id),
                ("external_id", "in", [c for c, _e in claims]),
            ]
        )
        for index, call in enumerate(calls):
            if desk:
                call._claim(desk[index % len(desk)])
        return True

    @api.model
    def _populate_callmarker(self, connection_ids):
        """Give the demo's answered calls the tags, scores and checklists a
        connected Callmarker would return, through the same parser and the
        same method as pulled results."""
        connection = self.env["pbx.connection"].browse(connection_ids)
        # sudo: demo loader: only the demo connection's answered calls, to give them
        #   results
        calls = (
            self.env["pbx.call"]
            .sudo()
            .search(
                [
                    ("connection_id", "=", connection.id),
                    ("state", "=", "done"),
                    ("disposition", "=", "answered"),
                    ("talk_seconds", ">", 0),
                ],
                order="start, id",
            )
        )
        raw = demo_data.callmarker_results(
            [{"id": call.id, "ended_at": call.ended_at or call.start} for call in calls]
        )
        results = [callmarker_adapter.parse_result(item) for item in raw]
        self.env["pbx.call"]._callmarker_apply_results(connection.company_id, results)
        # A manager's touch: tags that call for attention in red.
        self.env["pbx.call.tag"].search(
            [("name", "in", ("Complaint", "Not resolved"))]
        ).write({"color": 1})
        return True

    @api.model
    def _populate_touches(self):
        """Touches for the demo: tracked calls matched to the demo calls, web
        requests with their leads, and visits logged by the reception.

        The tracked calls and requests are written in Calltouch's own format
        and go through the same import as the sync's.
        """
        Touch = self.env["pbx.touch"]
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
        raw_calls = demo_data.calltouch_calls(
            [
                {
                    "start": call.start,
                    "number": call.external_key,
                    "talk_seconds": call.talk_seconds,
                    "answered": call.disposition == "answered",
                }
                for call in calls.filtered(lambda c: c.partner_id)[:40]
            ]
        )
        Touch._calltouch_import_calls(
            company, [parse_call(raw, zone) for raw in raw_calls]
        )
        now = fields.Datetime.now()
        raw_requests = demo_data.calltouch_requests(now)
        Touch._calltouch_import_requests(
            company, [parse_request(raw, zone) for raw in raw_requests]
        )
        desk = self.env.ref("clinic_pbx.demo_user_anna", raise_if_not_found=False)
        walk_in = self.env["utm.source"].search([("name", "=", "Word of mouth")])
        walk_in = walk_in or self.env["utm.source"].create({"name": "Word of mouth"})
        patients = calls.partner_id[:5]
        Touch.create(
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
