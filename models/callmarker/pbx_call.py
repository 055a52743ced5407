import hmac
import re
from datetime import timedelta, timezone

from odoo import api, fields, models
from odoo.fields import Command
from odoo.tools.misc import hmac as odoo_hmac

RECORDING_LINK_SCOPE = "clinic_pbx.callmarker_recording"
# Each attempt to send a call signs a fresh link: it only has to last until
# the service fetched the recording, and a link read in a log soon expires.
RECORDING_LINK_TTL = timedelta(hours=6)
MAX_CALL_ID = 2**31 - 1
SIGNATURE = re.compile(r"[0-9a-f]{64}")


class PbxCall(models.Model):
    """Call classification, tags and quality control from Callmarker."""

    _inherit = "pbx.call"

    tag_ids = fields.Many2many(
        "pbx.call.tag",
        "pbx_call_tag_rel",
        "call_id",
        "tag_id",
        string="Tags",
        readonly=True,
        help="Classification of the call by the call-analytics service.",
    )
    quality_score = fields.Float(
        digits=(5, 1),
        readonly=True,
        aggregator="avg",
        help="Quality of the call in percent, as rated by the call-analytics "
        "service. Empty until the call is analysed.",
    )
    quality_scored = fields.Boolean(
        "Scored",
        readonly=True,
        help="The call-analytics service gave this call a score. A result "
        "may classify a call without scoring it.",
    )
    quality_low = fields.Boolean(
        "Low Score",
        compute="_compute_quality_low",
        search="_search_quality_low",
        help="Analysed, and scored below the company's low-score threshold.",
    )
    quality_checklist_ids = fields.One2many(
        "pbx.call.checklist.line",
        "call_id",
        readonly=True,
    )
    quality_summary = fields.Text("Analysis Summary", readonly=True)
    quality_analyzed_at = fields.Datetime(
        "Analysed At", readonly=True, index="btree_not_null"
    )
    callmarker_push_ids = fields.One2many(
        "pbx.callmarker.push",
        "call_id",
        string="Sent to Callmarker",
        readonly=True,
        groups="clinic_pbx.clinic_pbx_group_manager",
    )

    @api.depends("quality_score", "quality_scored", "company_id")
    def _compute_quality_low(self):
        for call in self:
            call.quality_low = bool(
                call.quality_scored
                and call.quality_score < call.company_id.callmarker_low_score
            )

    def _search_quality_low(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return [("id", "=", 0)]
        threshold = self.env.company.callmarker_low_score
        low = [
            ("quality_scored", "=", True),
            ("quality_score", "<", threshold),
        ]
        return low if (operator == "=") == value else ["!", "&", *low]

    # ------------------------------------------------------------------
    # Push: finished calls are queued once, the scheduled action sends them.
    # ------------------------------------------------------------------

    def _after_ingest(self, events, changed):
        res = super()._after_ingest(events, changed)
        finished = self.filtered(
            lambda call: changed.get(call.id) and call.state == "done"
        )
        finished.company_id.fetch(["callmarker_enabled"])
        finished = finished.filtered(lambda call: call.company_id.callmarker_enabled)
        if finished:
            self.env["pbx.callmarker.push"]._queue(finished)
        return res

    def _callmarker_call_data(self, link_expires_at, link_nonce):
        """The neutral call dict the Callmarker adapter sends (see CALL_KEYS)."""
        self.ensure_one()
        # sudo: only the Callmarker push (run as superuser by the sync) asks it, for a
        #   call of the company whose account it is sent to; recording_url is admin-only
        call = self.sudo()
        admin = None
        if call.user_id:
            admin = {
                "id": call.user_id.id,
                "name": call.user_id.name,
                "extension": call.user_id.pbx_extension or None,
            }
        recording_url = None
        if call.has_recording and call.recording_url:
            recording_url = call._callmarker_recording_link(link_expires_at, link_nonce)
        return {
            "id": call.id,
            "pbx_call_id": call.external_id,
            "started_at": call.start,
            "answered_at": call.answered_at or None,
            "ended_at": call.ended_at or None,
            "direction": call.direction,
            "src": call.src,
            "dst": call.dst,
            "did": call.did,
            "caller_number": call.external_key,
            "extension": call.extension,
            "admin": admin,
            "disposition": call.disposition,
            "wait_seconds": call.wait_seconds,
            "talk_seconds": call.talk_seconds,
            "total_seconds": call.total_seconds,
            "recording_url": recording_url,
            "recording_expires_at": link_expires_at if recording_url else None,
        }

    # ------------------------------------------------------------------
    # Signed recording links for the service (no Odoo login)
    # ------------------------------------------------------------------

    @api.model
    def _callmarker_signature(self, call_id, expires, nonce):
        # sudo: reads the database secret only to sign; nothing but the HMAC is returned
        return odoo_hmac(
            self.sudo().env,
            RECORDING_LINK_SCOPE,
            (int(call_id), int(expires), nonce),
        )

    def _callmarker_recording_link(self, expires_at, nonce):
        """A URL of this call's recording, valid until ``expires_at`` (naive UTC).

        Signed with the database secret over the call id, the expiry and the
        nonce of the call's pbx.callmarker.push row, so it opens this one
        recording only and stops working when it expires or when the row is
        reset or deleted.
        """
        self.ensure_one()
        expires = int(expires_at.replace(tzinfo=timezone.utc).timestamp())
        signature = self._callmarker_signature(self.id, expires, nonce)
        return "%s/pbx/callmarker/recording/%d?expires=%d&signature=%s" % (
            self.get_base_url().rstrip("/"),
            self.id,
            expires,
            signature,
        )

    @api.model
    def _callmarker_check_recording_link(self, call_id, expires, signature, now):
        """True when ``signature`` was made for this call, expiry and the
        current nonce of its push, and is not expired at ``now`` (naive UTC)."""
        try:
            call_id, expires = int(call_id), int(expires)
        except (TypeError, ValueError):
            return False
        # compare_digest raises on non-ASCII text: check the shape first.
        if not isinstance(signature, str) or not SIGNATURE.fullmatch(signature):
            return False
        if not 0 < call_id <= MAX_CALL_ID:
            return False
        # sudo: reads only the push's nonce to recompute the signature; nothing about
        #   the call is returned to the public requester
        push = (
            self.env["pbx.callmarker.push"]
            .sudo()
            .search([("call_id", "=", call_id)], limit=1)
        )
        if not push.link_nonce:
            return False
        expected = self._callmarker_signature(call_id, expires, push.link_nonce)
        if not hmac.compare_digest(expected, signature):
            return False
        return now.replace(tzinfo=timezone.utc).timestamp() < expires

    # ------------------------------------------------------------------
    # Pull: analysis results written on the calls
    # ------------------------------------------------------------------

    @api.model
    def _callmarker_apply_results(self, company, results):
        """Store analysis results (``AnalysisResult``) on the company's calls.

        Applying the same result again changes nothing; a newer analysis
        replaces what it carries. Returns ``(applied, skipped)`` where skipped
        lists ``(call id, reason)``.
        """
        # sudo: asked only by the Callmarker sync and the demo loader: results from the
        #   company's own account, written on that company's calls only (domain below)
        Call = self.sudo().with_context(active_test=False)
        skipped, by_id = [], {}
        for result in results:
            if not re.fullmatch(r"[0-9]{1,18}", result.call_id):
                skipped.append((result.call_id, "not a call id of this database"))
                continue
            by_id.setdefault(int(result.call_id), []).append(result)
        calls = Call.search(
            [("id", "in", list(by_id)), ("company_id", "=", company.id)]
        )
        found = {call.id: call for call in calls}
        for call_id in by_id:
            if call_id not in found:
                skipped.append((str(call_id), "no such call in this company"))
        wanted = [
            result
            for call_id, items in by_id.items()
            if call_id in found
            for result in items
        ]
        tags = self.env["pbx.call.tag"]._callmarker_ensure(
            {pair for result in wanted for pair in result.tags or ()}
        )
        applied = 0
        for result in sorted(wanted, key=lambda r: r.analyzed_at):
            call = found[int(result.call_id)]
            if (
                call.quality_analyzed_at
                and result.analyzed_at < call.quality_analyzed_at
            ):
                continue
            call._callmarker_apply_result(result, tags)
            applied += 1
        return applied, skipped

    def _callmarker_apply_result(self, result, tags):
        self.ensure_one()
        vals = {"quality_analyzed_at": result.analyzed_at}
        if result.tags is not None:
            tag_ids = [tags[self._tag_key(*pair)].id for pair in result.tags]
            if set(tag_ids) != set(self.tag_ids.ids):
                vals["tag_ids"] = [Command.set(tag_ids)]
        if result.score is not None and (
            result.score != self.quality_score or not self.quality_scored
        ):
            vals.update(quality_score=result.score, quality_scored=True)
        if result.summary is not None and (result.summary or False) != (
            self.quality_summary or False
        ):
            vals["quality_summary"] = result.summary or False
        if result.checklist is not None:
            commands = self._checklist_commands(result.checklist)
            if commands:
                vals["quality_checklist_ids"] = commands
        if vals["quality_analyzed_at"] == self.quality_analyzed_at:
            del vals["quality_analyzed_at"]
        if vals:
            self.write(vals)

    def _checklist_commands(self, checklist):
        """Commands turning the stored checklist into ``checklist`` in place."""
        current = {
            line.criterion.casefold(): line for line in self.quality_checklist_ids
        }
        commands, kept = [], set()
        for sequence, (criterion, passed, weight) in enumerate(checklist, 1):
            key = criterion.casefold()
            line = current.get(key)
            values = {
                "criterion": criterion,
                "passed": passed,
                "weight": weight,
                "sequence": sequence,
            }
            if line:
                kept.add(key)
                if any(line[name] != value for name, value in values.items()):
                    commands.append(Command.update(line.id, values))
            else:
                commands.append(Command.create(values))
        commands += [
            Command.delete(line.id) for key, line in current.items() if key not in kept
        ]
        return commands

    @staticmethod
    def _tag_key(category, name):
        return (category.casefold(), name.casefold())
