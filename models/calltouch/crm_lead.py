from odoo import api, models

from ..pbx_sync_mixin import find_or_create


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model
    def _calltouch_tag_ids(self, names):
        """{name: crm.tag id} for ``names``, creating the missing tags."""
        names = {name for name in names if name}
        if not names:
            return {}
        # sudo: asked only by the Calltouch sync (as superuser): finds or creates the
        #   CRM tags named by its requests
        Tag = self.env["crm.tag"].sudo()
        found = {tag.name: tag.id for tag in Tag.search([("name", "in", list(names))])}
        for name in sorted(names - set(found)):
            found[name] = find_or_create(Tag, [("name", "=", name)], {"name": name}).id
        return found

    def _calltouch_fill(self, record, utm):
        """Fill what is still empty on this lead from a Calltouch request."""
        self.ensure_one()
        # sudo: asked only by the Calltouch sync: fills only the empty fields of the
        #   lead on that request's touch, never what the staff wrote
        lead = self.sudo()
        values = {}
        for key, field in (
            ("source", "source_id"),
            ("medium", "medium_id"),
            ("campaign", "campaign_id"),
        ):
            if not lead[field] and utm.get((key, record.get(key))):
                values[field] = utm[key, record[key]]
        if not lead.partner_id:
            phones = record["phones"]
            for field, value in (
                ("contact_name", record.get("name")),
                ("phone", phones[0] if phones else None),
                ("mobile", phones[1] if len(phones) > 1 else None),
                ("email_from", record.get("email")),
            ):
                if value and not lead[field]:
                    values[field] = value
        if values:
            lead.write(values)
        return values
