import zlib

from odoo import api, fields, models

# Odoo's tag colours without red (1) and salmon (6), which read as alarms.
CALM_COLORS = (4, 10, 3, 7, 9, 2, 11, 8, 5)


def stable_color(text):
    """A tag colour that is always the same for the same text."""
    digest = zlib.crc32((text or "").casefold().encode())
    return CALM_COLORS[digest % len(CALM_COLORS)]


class PbxCallTagCategory(models.Model):
    _name = "pbx.call.tag.category"
    _description = "Call Tag Category"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer(
        aggregator=None, help="Colour given to new tags of this category."
    )
    tag_ids = fields.One2many("pbx.call.tag", "category_id", string="Tags")
    tag_count = fields.Integer(compute="_compute_tag_count")

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A tag category with this name exists."),
    ]

    @api.depends("tag_ids")
    def _compute_tag_count(self):
        for category in self:
            category.tag_count = len(category.tag_ids)

    @api.model_create_multi
    def create(self, vals_list):
        # Each new category takes the next calm colour, so the first nine
        # categories are told apart at a glance.
        # sudo: only counts the categories (archived too) to pick the next colour;
        #   nothing is read or returned
        taken = self.sudo().with_context(active_test=False).search_count([])
        for vals in vals_list:
            if not vals.get("color"):
                vals["color"] = CALM_COLORS[taken % len(CALM_COLORS)]
                taken += 1
        return super().create(vals_list)
