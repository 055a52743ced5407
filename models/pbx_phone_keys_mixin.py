from odoo import api, fields, models

from ..tools.phone import phone_key


class PbxPhoneKeysMixin(models.AbstractModel):
    """Indexed E.164 keys of a record's phone and mobile, for caller lookup.

    ``phone_mobile_search`` of phone_validation compares what was typed; the
    PBX gives numbers in any form, so each number is normalised once, on
    write, and a caller is found by an exact index hit on these keys.
    """

    _name = "pbx.phone.keys.mixin"
    _description = "PBX Phone Keys"

    pbx_phone_key = fields.Char(
        compute="_compute_pbx_phone_keys", store=True, index="btree_not_null"
    )
    pbx_mobile_key = fields.Char(
        compute="_compute_pbx_phone_keys", store=True, index="btree_not_null"
    )

    def _pbx_number_country_code(self):
        self.ensure_one()
        country = (
            self.country_id or self.company_id.country_id or self.env.company.country_id
        )
        return country.code

    @api.depends("phone", "mobile", "country_id", "company_id")
    def _compute_pbx_phone_keys(self):
        for record in self:
            country = record._pbx_number_country_code()
            record.pbx_phone_key = phone_key(record.phone, country)
            record.pbx_mobile_key = phone_key(record.mobile, country)

    def _pbx_keys(self):
        return {
            key
            for record in self
            for key in (record.pbx_phone_key, record.pbx_mobile_key)
        } - {False, None}

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env["pbx.call"]._relink_contacts(records._pbx_keys())
        return records

    def write(self, vals):
        watched = {"phone", "mobile", "country_id", "company_id", "active"}
        if not watched & set(vals):
            return super().write(vals)
        before = self._pbx_keys()
        result = super().write(vals)
        self.env["pbx.call"]._relink_contacts(before | self._pbx_keys())
        return result

    def unlink(self):
        keys = self._pbx_keys()
        result = super().unlink()
        self.env["pbx.call"]._relink_contacts(keys)
        return result
