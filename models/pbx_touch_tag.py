from random import randint

from odoo import api, fields, models

from .pbx_sync_mixin import find_or_create


class PbxTouchTag(models.Model):
    _name = "pbx.touch.tag"
    _description = "Touch Tag"
    _order = "name"

    name = fields.Char(required=True)
    color = fields.Integer(default=lambda self: randint(1, 11))

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A touch tag with this name already exists."),
    ]

    @api.model
    def _ids_by_name(self, names):
        """{name: tag id} for ``names``, creating the tags that are missing."""
        names = {name for name in names if name}
        if not names:
            return {}
        # sudo: asked only by the Calltouch sync: finds or creates the touch tags it
        #   names
        Tag = self.sudo()
        found = {tag.name: tag.id for tag in Tag.search([("name", "in", list(names))])}
        for name in sorted(names - set(found)):
            found[name] = find_or_create(Tag, [("name", "=", name)], {"name": name}).id
        return found
