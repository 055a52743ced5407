"""Touches and leads from Calltouch records (see tools/calltouch.py)."""

from markupsafe import Markup

from odoo import Command, _, api, models
from odoo.tools import split_every

from ...tools.phone import phone_key
from ..pbx_touch import UTM_FIELDS

CREATE_BATCH = 1000
# Values Calltouch owns on a touch: refreshed on every sync. The patient, the
# lead, the call, the responsible user and the comment belong to the clinic.
CALL_FIELDS = (
    "date",
    "phone",
    "tracking_number",
    "duration",
    "is_target",
    "is_unique",
    "keyword",
    "landing_page",
)
REQUEST_FIELDS = (
    "date",
    "phone",
    "subject",
    "is_target",
    "is_unique",
    "keyword",
    "landing_page",
)


class PbxTouch(models.Model):
    _inherit = "pbx.touch"

    @api.model
    def _calltouch_owned_values(self, record, names, utm, tags):
        vals = {name: record.get(name) or False for name in names}
        for key, (field, _model) in UTM_FIELDS.items():
            vals[field] = utm.get((key, record.get(key)), False)
        vals["tag_ids"] = [
            tags[name] for name in record.get("tags") or () if name in tags
        ]
        return vals

    @api.model
    def _calltouch_existing(self, company, id_field, ids):
        touches = self.search_fetch(
            [("company_id", "=", company.id), (id_field, "in", ids)],
            [
                id_field,
                "call_id",
                "partner_id",
                "lead_id",
                "user_id",
                "phone",
                "phone_key",
                *CALL_FIELDS,
                *REQUEST_FIELDS,
                "source_id",
                "medium_id",
                "campaign_id",
                "tag_ids",
            ],
        )
        return {touch[id_field]: touch for touch in touches}

    @api.model
    def _calltouch_contacts(self, company, records):
        """Phone key per record and the patients and leads of those keys."""
        country = company.country_id.code
        known = {}  # the same callers call again and again
        keys = []
        for record in records:
            phone = record.get("phone")
            if phone and phone not in known:
                known[phone] = phone_key(phone, country)
            keys.append(known[phone] if phone else False)
        partners, leads = self.env["pbx.call"]._find_contacts(
            {key for key in keys if key}, company
        )
        return keys, partners, leads

    # ------------------------------------------------------------------
    # Calls diary
    # ------------------------------------------------------------------

    @api.model
    def _calltouch_import_calls(self, company, records):
        """One touch per Calltouch call, created or refreshed, matched to its
        PBX call. Returns {"created", "updated", "matched"}."""
        # sudo: the Calltouch sync (cron or an admin's Sync now) imports the company's
        #   own account into that company
        Touch = self.sudo().with_company(company)
        records = list({record["call_id"]: record for record in records}.values())
        stats = {"created": 0, "updated": 0, "matched": 0}
        if not records:
            return stats
        existing = Touch._calltouch_existing(
            company, "calltouch_call_id", [r["call_id"] for r in records]
        )
        keys, partners, leads = Touch._calltouch_contacts(company, records)
        utm = Touch._utm_ids(records)
        tags = self.env["pbx.touch.tag"]._ids_by_name(
            {name for record in records for name in record["tags"]}
        )
        matched = Touch._match_calls(
            company,
            [
                (record["call_id"], key, record["date"])
                for record, key in zip(records, keys, strict=True)
                if not existing.get(record["call_id"], Touch).call_id
            ],
        )
        # sudo: reads the patient, Admin and leads only of the calls _match_calls paired
        #   in this company
        calls = self.env["pbx.call"].sudo().browse(set(matched.values()))
        calls.fetch(["partner_id", "user_id", "lead_ids"])
        to_create = []
        for record, key in zip(records, keys, strict=True):
            vals = Touch._calltouch_owned_values(record, CALL_FIELDS, utm, tags)
            call = calls.browse(matched.get(record["call_id"]))
            stats["matched"] += bool(call)
            touch = existing.get(record["call_id"])
            if touch:
                changes = touch._changed_values(vals)
                if call:
                    changes.update(touch._values_from_call(call))
                changes.update(touch._contact_values(partners, leads, key, changes))
                if changes:
                    touch.write(changes)
                    stats["updated"] += 1
                continue
            vals.update(
                company_id=company.id,
                phone_key=key,
                origin="calltouch",
                channel="call",
                calltouch_call_id=record["call_id"],
                tag_ids=[Command.set(vals["tag_ids"])],
                call_id=call.id,
                user_id=call.user_id.id,
                partner_id=call.partner_id.id or (partners.get(key) or [False])[0],
                lead_id=call.lead_ids[:1].id or (leads.get(key) or [False])[0],
            )
            to_create.append(vals)
        for batch in split_every(CREATE_BATCH, to_create, list):
            Touch.create(batch)
        stats["created"] = len(to_create)
        return stats

    # ------------------------------------------------------------------
    # Requests journal
    # ------------------------------------------------------------------

    @api.model
    def _calltouch_import_requests(self, company, records):
        """One touch and one lead per Calltouch request.

        A new request creates its lead (linked to the patient when the number
        is known); a request seen again refreshes its touch and fills what is
        still empty on its lead, never overwriting what the staff wrote.
        Returns {"created", "updated", "leads"}.
        """
        # sudo: the Calltouch sync (cron or an admin's Sync now) imports the company's
        #   own account into that company
        Touch = self.sudo().with_company(company)
        records = list({r["request_id"]: r for r in records}.values())
        stats = {"created": 0, "updated": 0, "leads": 0}
        if not records:
            return stats
        existing = Touch._calltouch_existing(
            company, "calltouch_request_id", [r["request_id"] for r in records]
        )
        keys, partners, leads = Touch._calltouch_contacts(company, records)
        utm = Touch._utm_ids(records)
        all_tags = {name for record in records for name in record["tags"]}
        tags = self.env["pbx.touch.tag"]._ids_by_name(all_tags)
        new = []
        for record, key in zip(records, keys, strict=True):
            vals = Touch._calltouch_owned_values(record, REQUEST_FIELDS, utm, tags)
            touch = existing.get(record["request_id"])
            if not touch:
                new.append((record, key, vals))
                continue
            changes = touch._changed_values(vals)
            changes.update(touch._contact_values(partners, leads, key, changes))
            if changes:
                touch.write(changes)
                stats["updated"] += 1
            if touch.lead_id:
                touch.lead_id._calltouch_fill(record, utm)
        if not new:
            return stats
        # sudo: only browses the patients _find_contacts found for these numbers in this
        #   company, to link the new leads
        Partner = self.env["res.partner"].sudo()
        crm_tags = self.env["crm.lead"]._calltouch_tag_ids(all_tags)
        lead_vals = [
            self._calltouch_lead_values(
                company,
                record,
                vals,
                Partner.browse((partners.get(key) or [False])[0]),
                crm_tags,
            )
            for record, key, vals in new
        ]
        # sudo: the Calltouch sync (cron or an admin) creates the leads of its new
        #   requests, in the synced company
        created_leads = (
            self.env["crm.lead"]
            .sudo()
            .with_company(company)
            .with_context(mail_create_nosubscribe=True)
            .create(lead_vals)
        )
        to_create = []
        for (record, key, vals), lead in zip(new, created_leads, strict=True):
            vals.update(
                company_id=company.id,
                phone_key=key,
                origin="calltouch",
                channel="request",
                calltouch_request_id=record["request_id"],
                tag_ids=[Command.set(vals["tag_ids"])],
                lead_id=lead.id,
                partner_id=lead.partner_id.id,
                user_id=False,
                comment="\n".join(record["comments"]) or False,
            )
            to_create.append(vals)
        Touch.create(to_create)
        stats["created"] = stats["leads"] = len(to_create)
        return stats

    @api.model
    def _calltouch_lead_values(self, company, record, touch_vals, partner, crm_tags):
        subject = record.get("subject") or _("Web request")
        name = (
            _("%(subject)s: %(person)s", subject=subject, person=record["name"])
            if record.get("name")
            else subject
        )
        group_user = self.env.ref("base.group_user")
        use_leads = self.env.ref("crm.group_use_lead") in group_user.implied_ids
        vals = {
            "name": name,
            "type": "lead" if use_leads else "opportunity",
            "company_id": company.id,
            "user_id": False,
            "source_id": touch_vals["source_id"],
            "medium_id": touch_vals["medium_id"],
            "campaign_id": touch_vals["campaign_id"],
            "tag_ids": [
                Command.set([crm_tags[n] for n in record["tags"] if n in crm_tags])
            ],
            "description": self._calltouch_lead_description(record),
        }
        if partner:
            # The patient's own phone and email stay as they are.
            vals["partner_id"] = partner.id
        else:
            phones = record["phones"]
            vals.update(
                contact_name=record.get("name") or False,
                phone=phones[0] if phones else False,
                mobile=phones[1] if len(phones) > 1 else False,
                email_from=record.get("email") or False,
            )
        return vals

    @api.model
    def _calltouch_lead_description(self, record):
        rows = [
            (_("Calltouch request"), record["request_id"]),
            (_("Name"), record.get("name")),
            (_("Phones"), ", ".join(record["phones"])),
            (_("Email"), record.get("email")),
            (_("Form"), record.get("subject")),
            (_("Form page"), record.get("form_url")),
            (_("Landing page"), record.get("landing_page")),
        ]
        items = Markup("").join(
            Markup("<li>%s: %s</li>") % (label, value) for label, value in rows if value
        )
        comments = Markup("").join(
            Markup("<p>%s</p>") % comment for comment in record["comments"]
        )
        return Markup("<ul>%s</ul>%s") % (items, comments)
