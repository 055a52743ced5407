import re
from collections import defaultdict

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

EXTENSION_PATTERN = re.compile(r"^[0-9]{2,8}$")
PBX_USER_GROUP = "clinic_pbx.clinic_pbx_group_user"
PBX_MANAGER_GROUP = "clinic_pbx.clinic_pbx_group_manager"
USER_ADMIN_GROUP = "base.group_erp_manager"
# What res.users._pbx_extension_users answers from.
_EXTENSION_USER_FIELDS = {
    "active",
    "share",
    "pbx_extension",
    "company_ids",
    "groups_id",
    "partner_id",
}


class ResGroups(models.Model):
    _inherit = "res.groups"

    # Membership decides who is a PBX user (res.users._pbx_extension_users).
    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if "users" in vals or "implied_ids" in vals:
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()


class ResUsers(models.Model):
    _inherit = "res.users"

    pbx_extension = fields.Char(
        "PBX Extension",
        index="btree_not_null",
        help="Internal number of this user's phone. Several users may share one "
        "extension (a reception desk): they all get the pop-up when it rings. "
        "It gives access to the calls that ring it, so PBX Managers and user "
        "administrators set it.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["pbx_extension"]

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
        if any(vals.get("pbx_extension") for vals in vals_list):
            self.browse()._pbx_check_extension_rights()
        self.env.registry.clear_cache()  # _pbx_extension_users_cached
        return super().create(vals_list)

    def unlink(self):
        self.env.registry.clear_cache()  # _pbx_extension_users_cached
        return super().unlink()

    def write(self, vals):
        if _EXTENSION_USER_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # _pbx_extension_users_cached
        if "pbx_extension" not in vals:
            return super().write(vals)
        if vals["pbx_extension"]:
            vals = dict(vals, pbx_extension=vals["pbx_extension"].strip())
        by_manager = self._pbx_check_extension_rights()
        # sudo: the rights were checked on the line above; reads the old extensions for
        #   the log
        before = {user.id: user.sudo().pbx_extension for user in self}
        if by_manager and set(vals) == {"pbx_extension"}:
            # A PBX Manager may not edit users otherwise: the extension, and
            # nothing else, is written for them.
            # sudo: checked above: a PBX Manager of all these users' companies, writing
            #   the extension only
            result = super(ResUsers, self.sudo()).write(vals)
        else:
            result = super().write(vals)
        self._pbx_log_extension_changes(before)
        return result

    def _pbx_check_extension_rights(self):
        """Refuse to set the extension of these users unless the current user
        is a user administrator, or a PBX Manager of all their companies.

        An extension gives access to the calls that ring it (and their
        pop-ups), so it is an access right. Returns True when the PBX Manager
        rule let it through.
        """
        env = self.env
        if env.su or env.user.has_group(USER_ADMIN_GROUP):
            return False
        # sudo: reads only the users' companies, to compare them with the manager's
        if env.user.has_group(PBX_MANAGER_GROUP) and all(
            user.sudo().company_ids <= env.user.company_ids for user in self
        ):
            return True
        raise AccessError(
            _(
                "Only PBX Managers and user administrators set PBX extensions: "
                "an extension gives access to the calls that ring it."
            )
        )

    def _pbx_log_extension_changes(self, before):
        """Log each change on the user's contact (users have no chatter)."""
        # sudo: logs, on the users' contacts, the extension change just written with
        #   checked rights
        for user in self.sudo():
            old, new = before.get(user.id) or False, user.pbx_extension or False
            if old != new:
                user.partner_id._message_log(
                    body=_(
                        "PBX extension changed from %(old)s to %(new)s.",
                        old=old or _("none"),
                        new=new or _("none"),
                    )
                )

    @api.model
    def _pbx_users_by_extension(self, extensions, company):
        """{extension: [user ids]} for active PBX users of ``company``."""
        result = defaultdict(list)
        for user_id, extension, _partner_id in self._pbx_extension_users(
            extensions, company
        ):
            result[extension].append(user_id)
        return dict(result)

    @api.model
    def _pbx_extension_users(self, extensions, company):
        """[(user id, extension, partner id)] of the active PBX users of
        ``company`` whose extension is one of ``extensions``, by user id.

        Every event a PBX sends asks it: the answer is kept per worker until
        a user's extension, activity, companies or groups change.
        """
        extensions = tuple(sorted({ext for ext in extensions if ext}))
        if not extensions:
            return []
        return list(self._pbx_extension_users_cached(extensions, company.id))

    @api.model
    @tools.ormcache("extensions", "company_id")
    def _pbx_extension_users_cached(self, extensions, company_id):
        # One statement. The group link table holds implied groups too, so a
        # PBX Manager is found as a PBX User.
        # A change still in memory has emptied the cache (write() above).
        self.env["res.users"].flush_model(sorted(_EXTENSION_USER_FIELDS))
        group_id = self.env["ir.model.data"]._xmlid_to_res_id(PBX_USER_GROUP)
        self.env.cr.execute(
            SQL(
                """
                SELECT u.id, u.pbx_extension, u.partner_id FROM res_users u
                WHERE u.active AND NOT u.share AND u.pbx_extension = ANY(%s)
                  AND EXISTS (SELECT 1 FROM res_company_users_rel cu
                              WHERE cu.user_id = u.id AND cu.cid = %s)
                  AND EXISTS (SELECT 1 FROM res_groups_users_rel gu
                              WHERE gu.uid = u.id AND gu.gid = %s)
                ORDER BY u.id
                """,
                list(extensions),
                company_id,
                group_id,
            )
        )
        return tuple(self.env.cr.fetchall())
