"""Live incoming-call pop-ups for every user whose extension rings.

The PBX's live events reach ``_ingest_events``; once a batch is folded into
its calls, ``_after_ingest`` tells the users concerned through their own bus
channel (``res.users._bus_send``, i.e. their partner's channel). ``bus.bus``
writes the notifications in the same transaction and wakes the websockets
only after it commits, so a batch that fails notifies nobody.

Notifications (type: payload):

- ``pbx.call/ring``: the call rings the user's extension; caller number and
  the patients and leads behind it (see ``_pbx_popup_ring_payload``).
- ``pbx.call/taken``: someone answered or pressed *I'll take it*; who.
- ``pbx.call/missed``: the caller hung up before anyone answered.
"""

from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

# A ringing call stays on screens at most this long without news from the
# PBX (a lost hangup must not leave a card forever), and only calls that
# started ringing this recently are shown to a user who opens Odoo.
RING_SECONDS = 300
LIVE_EVENT_TYPES = frozenset(("ringing", "answered", "hangup"))
MAX_PATIENTS = 5
MAX_LEADS = 3
# Fields some clinics add to contacts for the date of birth; the first one
# that exists (as a date) is shown on the pop-up.
BIRTHDATE_FIELDS = ("birthdate", "birthday", "date_of_birth", "birth_date")
# Touches (pbx.touch) are built separately; the pop-up finds the fields it
# fills by what they link to, and the phone field by these names.
TOUCH_MODEL = "pbx.touch"
TOUCH_PHONE_FIELDS = ("phone", "number", "phone_number", "caller_number")
TOUCH_DATE_FIELDS = ("date", "touch_date", "datetime", "create_date")
PBX_USER_GROUP = "clinic_pbx.clinic_pbx_group_user"


class PbxCall(models.Model):
    _inherit = "pbx.call"

    # ------------------------------------------------------------------
    # Notifications driven by live events
    # ------------------------------------------------------------------

    def _after_ingest(self, events):
        result = super()._after_ingest(events)
        self._pbx_popup_notify(events)
        return result

    def _pbx_popup_notify(self, events):
        """Send ring / taken / missed to the users whose extension rang.

        Only live events drive pop-ups; a CDR row closes the cards of a call
        that started within RING_SECONDS (a PBX that also syncs its CDR while
        the call still shows), and never opens one.
        """
        types_by_call = defaultdict(set)
        for event in events:
            types_by_call[event["call_id"]].add(event["type"])
        recent = fields.Datetime.now() - timedelta(seconds=RING_SECONDS)
        for call in self:
            types = types_by_call.get(call.external_id)
            if not types or call.direction != "incoming":
                continue
            live = bool(types & LIVE_EVENT_TYPES)
            if not live and not (call.start and call.start >= recent):
                continue
            users = call._pbx_popup_recipients()
            if not users:
                continue
            if call.state == "ringing":
                if "ringing" in types:
                    users._bus_send("pbx.call/ring", call._pbx_popup_ring_payload())
            elif call.state == "talking" or call.disposition == "answered":
                users._bus_send("pbx.call/taken", call._pbx_popup_taken_payload())
            else:
                users._bus_send("pbx.call/missed", {"call_id": call.id})

    def _pbx_popup_recipients(self):
        """Active PBX users whose extension rang for this call."""
        self.ensure_one()
        rang = self.sudo().rang_user_ids
        if not rang:
            return rang
        # One query for all of them (a user's groups include implied ones).
        return rang.search(
            [
                ("id", "in", rang.ids),
                ("groups_id", "in", self.env.ref(PBX_USER_GROUP).id),
            ],
            order="id",
        )

    def _pbx_popup_taken_payload(self):
        self.ensure_one()
        user = self.sudo().user_id
        return {
            "call_id": self.id,
            "user_id": user.id or False,
            "user_name": user.name or False,
            "extension": self.answered_extension or False,
        }

    def _pbx_popup_ring_payload(self):
        """What a receptionist needs on the card, as plain data.

        Everything here comes from the PBX, the caller or a contact and is
        rendered as text by the client.
        """
        self.ensure_one()
        call = self.sudo()
        partners = call.partner_ids[:MAX_PATIENTS]
        # Open leads of the number, and those of the matching patients.
        leads = self.env["crm.lead"].browse()
        if call.lead_ids or partners:
            leads = (
                self.env["crm.lead"]
                .sudo()
                .search(
                    [
                        "|",
                        ("id", "in", call.lead_ids.ids),
                        ("partner_id", "in", partners.ids),
                        ("company_id", "in", [False, call.company_id.id]),
                        "|",
                        ("stage_id", "=", False),
                        ("stage_id.is_won", "=", False),
                    ],
                    order="id desc",
                    limit=20,
                )
            )
        last_calls = call._pbx_popup_last_calls(partners)
        last_touches = call._pbx_popup_last_touches(partners)
        birthdate_field = next(
            (
                name
                for name in BIRTHDATE_FIELDS
                if name in partners._fields and partners._fields[name].type == "date"
            ),
            None,
        )
        patients = []
        for partner in partners:
            own_leads = leads.filtered(lambda lead, p=partner: lead.partner_id == p)
            birthdate = partner[birthdate_field] if birthdate_field else False
            patients.append(
                {
                    "id": partner.id,
                    "name": partner.name or partner.display_name,
                    "ref": partner.ref or False,
                    "birthdate": fields.Date.to_string(birthdate)
                    if birthdate
                    else False,
                    "last_call": last_calls.get(partner.id, False),
                    "last_touch": last_touches.get(partner.id, False),
                    "leads": [
                        self._pbx_popup_lead_data(lead)
                        for lead in own_leads[:MAX_LEADS]
                    ],
                }
            )
        other_leads = leads.filtered(lambda lead: lead.partner_id not in partners)
        now = fields.Datetime.now()
        age = (now - (call.create_date or now)).total_seconds()
        return {
            "call_id": call.id,
            "caller": call.src or "",
            "phone": call.external_key or call.src or "",
            "extension": call.extension or "",
            "line": call.did or call.dst or "",
            "start": fields.Datetime.to_string(call.start) if call.start else False,
            "expires_in": max(1, int(RING_SECONDS - age)),
            "patients": patients,
            "leads": [
                self._pbx_popup_lead_data(lead) for lead in other_leads[:MAX_LEADS]
            ],
            "can_log_touch": TOUCH_MODEL in self.env,
        }

    @api.model
    def _pbx_popup_lead_data(self, lead):
        return {
            "id": lead.id,
            "name": lead.name or "",
            "stage": lead.stage_id.name or "",
        }

    def _pbx_popup_last_calls(self, partners):
        """{partner id: the patient's latest other call of this company}.

        One query from the patients' side of the link (an index hit), not a
        scan of the calls by date.
        """
        self.ensure_one()
        if not partners:
            return {}
        self.env["pbx.call"].flush_model(["start", "company_id", "partner_ids"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (rel.partner_id) rel.partner_id, call.id
                FROM pbx_call_partner_rel rel
                JOIN pbx_call call ON call.id = rel.call_id
                WHERE rel.partner_id = ANY(%s)
                  AND call.id != %s
                  AND call.company_id = %s
                ORDER BY rel.partner_id, call.start DESC, call.id DESC
                """,
                partners.ids,
                self.id,
                self.company_id.id,
            )
        )
        latest = dict(self.env.cr.fetchall())
        calls = self.sudo().browse(set(latest.values()))
        labels = dict(self._fields["disposition"].selection)
        directions = dict(self._fields["direction"].selection)
        result = {}
        for partner_id, call_id in latest.items():
            call = calls.browse(call_id)
            result[partner_id] = {
                "start": fields.Datetime.to_string(call.start),
                "direction": directions.get(call.direction, ""),
                "disposition": labels.get(call.disposition, "")
                if call.disposition
                else "",
                "user_name": call.user_id.name or "",
            }
        return result

    def _pbx_popup_last_touches(self, partners):
        """{partner id: {name, date}} of the patient's latest touch.

        Works with any ``pbx.touch`` model that links a touch to a contact
        through a many2one to res.partner; nothing when there is none.
        """
        if not partners or TOUCH_MODEL not in self.env:
            return {}
        Touch = self.env[TOUCH_MODEL].sudo()
        partner_field = self._pbx_popup_touch_field(Touch, "res.partner")
        if not partner_field:
            return {}
        date_field = next(
            (name for name in TOUCH_DATE_FIELDS if name in Touch._fields), None
        )
        result = {}
        for touch in Touch.search(
            [(partner_field, "in", partners.ids)],
            order=f"{date_field} desc, id desc" if date_field else None,
            limit=50,
        ):
            partner_id = touch[partner_field].id
            if partner_id in result:
                continue
            value = touch[date_field] if date_field else False
            result[partner_id] = {
                "name": touch.display_name or "",
                "date": fields.Datetime.to_string(value)
                if value and Touch._fields[date_field].type == "datetime"
                else (fields.Date.to_string(value) if value else False),
            }
        return result

    @api.model
    def _pbx_popup_touch_field(self, Touch, comodel):
        """Name of the first many2one of ``Touch`` to ``comodel``, or None."""
        preferred = {"res.partner": "partner_id", "pbx.call": "call_id"}.get(comodel)
        field = Touch._fields.get(preferred) if preferred else None
        if field and field.type == "many2one" and field.comodel_name == comodel:
            return preferred
        return next(
            (
                name
                for name, field in Touch._fields.items()
                if field.type == "many2one"
                and field.comodel_name == comodel
                and field.store
            ),
            None,
        )

    # ------------------------------------------------------------------
    # What the pop-up calls
    # ------------------------------------------------------------------

    @api.model
    def pbx_popup_ringing(self):
        """Ring payloads of the calls ringing for the current user right now.

        For a user who opens Odoo (or a new tab) while a call rings.
        """
        user = self.env.user
        if not user._has_group(PBX_USER_GROUP):
            return []
        since = fields.Datetime.now() - timedelta(seconds=RING_SECONDS)
        calls = self.sudo().search(
            [
                ("state", "=", "ringing"),
                ("direction", "=", "incoming"),
                ("rang_user_ids", "in", user.ids),
                ("create_date", ">=", since),
            ],
            order="create_date, id",
            limit=20,
        )
        return [call._pbx_popup_ring_payload() for call in calls]

    def action_pbx_take(self):
        """*I'll take it*: the current user takes a call that rang them.

        The first claim wins. Everyone the call rang for learns who took it.
        Returns {"taken": bool, "user_id", "user_name"} (the winner).
        """
        self.ensure_one()
        user = self.env.user
        self.check_access("read")
        call = self.sudo()
        if user not in call.rang_user_ids:
            raise AccessError(_("This call did not ring your extension."))
        if call.state == "done":
            raise UserError(_("This call has already ended."))
        taken = call._claim(user)
        payload = call._pbx_popup_taken_payload()
        if taken:
            call._pbx_popup_recipients()._bus_send("pbx.call/taken", payload)
        return {
            "taken": taken,
            "user_id": payload["user_id"],
            "user_name": payload["user_name"],
        }

    def action_pbx_log_touch(self, partner_id=False):
        """Form of a new touch for this call, or False without pbx.touch.

        Defaults are given to the touch's own fields, found by what they
        link to (the call, the patient) and by name (the phone), so the
        form opens filled whatever pbx.touch calls them.
        """
        self.ensure_one()
        self.check_access("read")
        if TOUCH_MODEL not in self.env:
            return False
        Touch = self.env[TOUCH_MODEL]
        Touch.check_access("create")
        call = self.sudo()
        partner = self.env["res.partner"].browse(partner_id or []).exists()
        partner = partner if partner in call.partner_ids else call.partner_id
        context = {}
        call_field = self._pbx_popup_touch_field(Touch, "pbx.call")
        if call_field:
            context[f"default_{call_field}"] = call.id
        partner_field = self._pbx_popup_touch_field(Touch, "res.partner")
        if partner_field and partner:
            context[f"default_{partner_field}"] = partner.id
        phone_field = next(
            (
                name
                for name in TOUCH_PHONE_FIELDS
                if name in Touch._fields and Touch._fields[name].type == "char"
            ),
            None,
        )
        if phone_field:
            context[f"default_{phone_field}"] = call.external_key or call.src
        context.update(self._pbx_popup_touch_context(partner))
        return {
            "type": "ir.actions.act_window",
            "name": _("Log a Touch"),
            "res_model": TOUCH_MODEL,
            "views": [[False, "form"]],
            "target": "current",
            "context": context,
        }

    def _pbx_popup_touch_context(self, partner):
        """Extra defaults for the touch form (for pbx.touch to extend)."""
        return {}
