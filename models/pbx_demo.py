from odoo import api, fields, models

from ..tools import demo_data
from ..tools.call_events import validate_event

DEMO_RECORDINGS = (
    "clinic_pbx/static/demo/recordings/demo-consultation.wav",
    "clinic_pbx/static/demo/recordings/demo-booking.wav",
)


class PbxConnection(models.Model):
    _inherit = "pbx.connection"

    @api.model
    def _demo_populate(self, connection_ids):
        """Fill a demo connection with patients and a month of calls.

        Calls are fed to the same ingestion method as a real PBX's events.
        """
        connection = self.browse(connection_ids)
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
        for start in range(0, len(events), 500):
            Call._ingest_events(connection, events[start : start + 500])
        receptionists = self.env["res.users"]._pbx_users_by_extension(
            ["101"], connection.company_id
        )
        desk = self.env["res.users"].browse(receptionists.get("101", []))
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
