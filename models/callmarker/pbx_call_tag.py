from odoo import api, fields, models

from ..pbx_sync_mixin import find_or_create
from .pbx_call_tag_category import stable_color


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PbxCallTag(models.Model):
    """A label a call-analytics service (Callmarker) put on calls."""

    _name = "pbx.call.tag"
    _description = "Call Tag"
    _order = "category_id, name, id"
    _rec_names_search = ["name", "category_id.name"]

    name = fields.Char(required=True)
    category_id = fields.Many2one(
        "pbx.call.tag.category",
        required=True,
        index=True,
        ondelete="cascade",
    )
    color = fields.Integer(
        aggregator=None, help="Colour of the tag in the Call Log and on calls."
    )
    active = fields.Boolean(default=True)
    call_count = fields.Integer("Calls", compute="_compute_call_count")

    _sql_constraints = [
        (
            "name_category_unique",
            "UNIQUE(category_id, name)",
            "This tag already exists in its category.",
        ),
    ]

    @api.depends("name", "category_id.name")
    @api.depends_context("pbx_tag_short")
    def _compute_display_name(self):
        short = self.env.context.get("pbx_tag_short")
        for tag in self:
            if tag.category_id and not short:
                tag.display_name = f"{tag.category_id.name}: {tag.name}"
            else:
                tag.display_name = tag.name

    def _compute_call_count(self):
        counts = dict(
            self.env["pbx.call"]._read_group(
                [("tag_ids", "in", self.ids)], ["tag_ids"], ["__count"]
            )
        )
        for tag in self:
            tag.call_count = counts.get(tag, 0)

    @api.model_create_multi
    def create(self, vals_list):
        categories = self.env["pbx.call.tag.category"].browse(
            [vals["category_id"] for vals in vals_list if vals.get("category_id")]
        )
        colors = {category.id: category.color for category in categories}
        for vals in vals_list:
            if not vals.get("color"):
                vals["color"] = colors.get(vals.get("category_id")) or stable_color(
                    vals.get("name")
                )
        return super().create(vals_list)

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "clinic_pbx.pbx_call_action"
        )
        action["domain"] = [("tag_ids", "in", self.ids)]
        action["context"] = {}
        return action

    @api.model
    def _callmarker_ensure(self, pairs):
        """Tags for ``(category, name)`` pairs, created when missing.

        Matching ignores case, so "booking" and "Booking" are one tag. Returns
        ``{(category, name) casefolded: tag}``.
        """
        # sudo: asked only by _callmarker_apply_results (the sync, the demo), which runs
        #   as superuser; finds or creates tags by the names Callmarker returned
        Category = (
            self.env["pbx.call.tag.category"].sudo().with_context(active_test=False)
        )
        Tag = self.sudo().with_context(active_test=False)
        result = {}
        if not pairs:
            return result
        by_category = {}
        for category, name in pairs:
            by_category.setdefault(category.casefold(), (category, set()))[1].add(name)
        categories = {
            c.name.casefold(): c
            for c in Category.search([])
            if c.name.casefold() in by_category
        }
        for key, (label, _names) in by_category.items():
            if key not in categories:
                categories[key] = find_or_create(
                    Category, [("name", "=ilike", _like_escape(label))], {"name": label}
                )
        existing = Tag.search(
            [("category_id", "in", [c.id for c in categories.values()])]
        )
        known = {
            (t.category_id.name.casefold(), t.name.casefold()): t for t in existing
        }
        for key, (_label, names) in by_category.items():
            category = categories[key]
            for name in names:
                tag_key = (key, name.casefold())
                if tag_key not in known:
                    known[tag_key] = find_or_create(
                        Tag,
                        [
                            ("category_id", "=", category.id),
                            ("name", "=ilike", _like_escape(name)),
                        ],
                        {"name": name, "category_id": category.id},
                    )
                result[tag_key] = known[tag_key]
        return result
