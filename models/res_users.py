import re
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

EXTENSION_PATTERN = re.compile(r"^[0-9]{2,8}$")


class ResUsers(models.Model):
    _inherit = "res.users"

    pbx_extension = fields.Char(
        "PBX Extension",
        index="btree_not_null",
        help="Internal number of this user's phone. Several users may share one "
        "extension (a reception desk): they all get the pop-up when it rings.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["pbx_extension"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["pbx_extension"]

    @api.constrains("pbx_extension")
    def _check_pbx_extension(self):
        for user in self:
            if user.pbx_extension and not EXTENSION_PATTERN.match(user.pbx_extension):
                raise ValidationError(
                    _(
                        "The PBX extension of %(user)s must be 2 to 8 digits, "
                        "like 101; %(value)s is not.",
                        user=user.name,
                        value=user.pbx_extension,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("pbx_extension"):
                vals["pbx_extension"] = vals["pbx_extension"].strip()
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("pbx_extension"):
            vals["pbx_extension"] = vals["pbx_extension"].strip()
        return super().write(vals)

    @api.model
    def _pbx_users_by_extension(self, extensions, company):
        """{extension: [user ids]} for active internal users of ``company``."""
        extensions = [ext for ext in extensions if ext]
        if not extensions:
            return {}
        users = (
            self.sudo()
            .with_context(active_test=True)
            .search_fetch(
                [
                    ("pbx_extension", "in", extensions),
                    ("share", "=", False),
                    ("company_ids", "in", company.ids),
                ],
                ["pbx_extension"],
                order="id",
            )
        )
        result = defaultdict(list)
        for user in users:
            result[user.pbx_extension].append(user.id)
        return dict(result)
