"""Live incoming-call pop-ups for every user whose extension rings.

The PBX's live events reach ``_ingest_events``; once a batch is folded into
its calls, ``_after_ingest`` tells the users concerned through their own bus
channel (their partner's channel, as ``res.users._bus_send`` does). As
``bus.bus`` does, the notifications are written in the same transaction and
the websockets woken only after it commits, so a batch that fails notifies
nobody (see ``_pbx_popup_send``).

Notifications (type: payload):

- ``pbx.call/ring``: the call rings the user's extension; caller number and
  the patients and leads behind it (see ``_pbx_popup_ring_payload``).
- ``pbx.call/taken``: someone answered or pressed *I'll take it*; who.
- ``pbx.call/missed``: the caller hung up before anyone answered.
- ``pbx.call/update``: the call's patients or leads changed (a contact was
  created or edited); the ring payload again, for a card still on screen.
"""

from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import OrderedSet

from odoo.addons.bus.models.bus import channel_with_db, get_notify_payloads, json_dump

from ..tools.bus_notify import notifier
from ..tools.expiring_cache import ExpiringCache

# A ringing call stays on screens at most this long without news from the
# PBX (a lost hangup must not leave a card forever), and only calls that
# started ringing this recently are shown to a user who opens Odoo.
RING_SECONDS = 300
# A card taken by a receptionist stays until closed; calls started longer ago
# than this no longer have one worth updating.
CARD_UPDATE_SECONDS = 3600
POPUP_UPDATES = "clinic_pbx.popup_updates"  # calls to update before the commit
POPUP_BUS_VALUES = "clinic_pbx.popup_bus"  # notifications to write and announce
LIVE_EVENT_TYPES = frozenset(("ringing", "answered", "hangup"))
MAX_PATIENTS = 5
MAX_LEADS = 3
# Fields some clinics add to contacts for the date of birth; the first one
# that exists (as a date) is shown on the pop-up.
BIRTHDATE_FIELDS = ("birthdate", "birthday", "date_of_birth", "birth_date")
PBX_USER_GROUP = "clinic_pbx.clinic_pbx_group_user"
# How long a process reuses the patients and leads of a ringing call's card
# (see PbxCall._pbx_popup_people), and for how many calls at most.
CARD_CACHE_SECONDS = 10
CARD_CACHE_SIZE = 256


# The cards' people of ringing calls (see _pbx_popup_people).
_card_cache = ExpiringCache(CARD_CACHE_SECONDS, CARD_CACHE_SIZE)


class PbxCall(models.Model):
    _inherit = "pbx.call"

    # ------------------------------------------------------------------
    # Notifications driven by live events
    # ------------------------------------------------------------------

    def _after_ingest(self, events, changed):
        result = super()._after_ingest(events, changed)
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
        notified = []
        for call in self:
            types = types_by_call.get(call.external_id)
            if not types or call.direction != "incoming":
                continue
            live = bool(types & LIVE_EVENT_TYPES)
            if not live and not (call.start and call.start >= recent):
                continue
            notified.append((call, types))
        # Who took them, for all the cards at once: a CDR sync brings the
        # calls of the last minutes together.
        names = self._pbx_popup_user_names(
            [call.sudo().user_id.id for call, _types in notified]
        )
        for call, types in notified:
            # The users ingestion found for the extensions that rang: active
            # PBX users of the call's company (pbx.call._users_for_state).
            listeners = call.with_context(active_test=False).rang_user_ids.partner_id
            if not listeners:
                continue
            if call.state == "ringing":
                if "ringing" in types:
                    self._pbx_popup_send(
                        listeners, "pbx.call/ring", call._pbx_popup_ring_payload()
                    )
            elif call.state == "talking" or call.disposition == "answered":
                self._pbx_popup_send(
                    listeners, "pbx.call/taken", call._pbx_popup_taken_payload(names)
                )
            else:
                self._pbx_popup_send(listeners, "pbx.call/missed", {"call_id": call.id})

    @api.model
    def _relink_contacts(self, keys):
        changed = super()._relink_contacts(keys)
        if changed:
            # Sent just before the commit: once every link of the contact
            # (its touches too) is in place, and once however many saves
            # changed the same calls.
            data = self.env.cr.precommit.data
            if POPUP_UPDATES not in data:
                data[POPUP_UPDATES] = set()

                @self.env.cr.precommit.add
                def send_updates():
                    ids = sorted(data.pop(POPUP_UPDATES, ()))
                    self.env["pbx.call"].browse(ids)._pbx_popup_update()

            data[POPUP_UPDATES].update(changed.ids)
        return changed

    def _pbx_popup_update(self):
        """Cards still on screen show the patients and leads found since they
        opened: the receptionist who creates the patient during the call
        sees the card turn from "Unknown number" to the patient."""
        since = fields.Datetime.now() - timedelta(seconds=CARD_UPDATE_SECONDS)
        # sudo: cards are updated only for the users whose extension rang
        #   (_pbx_popup_recipients)
        for call in self.sudo():
            if call.direction != "incoming" or not call.start or call.start < since:
                continue
            listeners = call._pbx_popup_recipients()
            if listeners:
                self._pbx_popup_send(
                    listeners,
                    "pbx.call/update",
                    call._pbx_popup_ring_payload(fresh=True),
                )

    def _pbx_popup_recipients(self):
        """The partners of the active PBX users whose extension rang for this
        call: a user's bus channel is their partner's.

        One statement, as every live event asks it.
        """
        self.ensure_one()
        self.flush_recordset(["rang_user_ids"])
        self.env["res.users"].flush_model(["active", "partner_id", "groups_id"])
        group_id = self.env["ir.model.data"]._xmlid_to_res_id(PBX_USER_GROUP)
        self.env.cr.execute(
            SQL(
                """
                SELECT u.partner_id FROM pbx_call_rang_user_rel r
                JOIN res_users u ON u.id = r.user_id AND u.active
                WHERE r.call_id = %s AND EXISTS (
                    SELECT 1 FROM res_groups_users_rel gu
                    WHERE gu.uid = u.id AND gu.gid = %s
                )
                ORDER BY u.id
                """,
                self.id,
                group_id,
            )
        )
        # Their partners' channels are where the bus reaches them.
        return self.env["res.partner"].browse(
            [pid for (pid,) in self.env.cr.fetchall()]
        )

    @api.model
    def _pbx_popup_send(self, partners, notification_type, message):
        """What ``partners._bus_send(notification_type, message)`` does, with
        the listeners woken through a kept connection (tools/bus_notify.py)
        rather than a new one after every commit."""
        cr = self.env.cr
        values = cr.precommit.data.get(POPUP_BUS_VALUES)
        if values is None:
            values = cr.precommit.data[POPUP_BUS_VALUES] = []
            cr.postcommit.data[POPUP_BUS_VALUES] = OrderedSet()

            @cr.precommit.add
            def write_notifications():
                rows = cr.precommit.data.pop(POPUP_BUS_VALUES)
                cr.execute(
                    SQL(
                        """
                        INSERT INTO bus_bus
                            (channel, message, create_uid, create_date,
                             write_uid, write_date)
                        SELECT channel, message, %s, now() AT TIME ZONE 'UTC',
                               %s, now() AT TIME ZONE 'UTC'
                        FROM unnest(%s::varchar[], %s::varchar[])
                            AS n(channel, message)
                        """,
                        self.env.uid,
                        self.env.uid,
                        [row[0] for row in rows],
                        [row[1] for row in rows],
                    )
                )

            @cr.postcommit.add
            def wake_listeners():
                notifier.notify(
                    get_notify_payloads(list(cr.postcommit.data.pop(POPUP_BUS_VALUES)))
                )

        message = json_dump({"type": notification_type, "payload": message})
        for partner in partners:
            channel = channel_with_db(cr.dbname, partner)
            values.append((json_dump(channel), message))
            cr.postcommit.data[POPUP_BUS_VALUES].add(channel)

    @api.model
    def _pbx_popup_user_names(self, user_ids):
        """{user id: name} of the users who took calls, in one statement."""
        user_ids = sorted({uid for uid in user_ids if uid})
        if not user_ids:
            return {}
        self.env["res.users"].flush_model(["partner_id"])
        self.env["res.partner"].flush_model(["name"])
        self.env.cr.execute(
            SQL(
                """
                SELECT u.id, p.name FROM res_users u
                JOIN res_partner p ON p.id = u.partner_id WHERE u.id = ANY(%s)
                """,
                user_ids,
            )
        )
        return dict(self.env.cr.fetchall())

    def _pbx_popup_taken_payload(self, names=None):
        """The card's "taken by" message; ``names`` from _pbx_popup_user_names
        when the caller has them for several calls."""
        self.ensure_one()
        # sudo: reads only who took the call, for the users it rang (ingestion,
        #   action_pbx_take after its checks)
        user_id = self.sudo().user_id.id
        if names is None or (user_id and user_id not in names):
            names = self._pbx_popup_user_names([user_id])
        name = names.get(user_id) if user_id else False
        return {
            "call_id": self.id,
            "user_id": user_id or False,
            "user_name": name or False,
            "extension": self.answered_extension or False,
        }

    def _pbx_popup_ring_payload(self, fresh=False):
        """What a receptionist needs on the card, as plain data.

        Everything here comes from the PBX, the caller or a contact and is
        rendered as text by the client. The patients and leads come from
        ``_pbx_popup_people`` (``fresh``: not from its short-lived cache).
        """
        self.ensure_one()
        # sudo: the card goes only to users the call rang (ingestion,
        #   pbx_popup_ringing): they see its patients and leads even without CRM rights
        call = self.sudo()
        people = call._pbx_popup_people(fresh)
        # Counted from the last ring: a caller may wait in a queue for minutes
        # before a phone rings.
        now = fields.Datetime.now()
        age = (now - (call.write_date or now)).total_seconds()
        return {
            "call_id": call.id,
            "caller": call.src or "",
            "phone": call.external_key or call.src or "",
            "extension": call.extension or "",
            "line": call.did or call.dst or "",
            "start": fields.Datetime.to_string(call.start) if call.start else False,
            "expires_in": max(1, int(RING_SECONDS - age)),
            "patients": people["patients"],
            "leads": people["leads"],
            "callback": people["callback"],
        }

    def _pbx_popup_open_callback(self):
        """The caller's open callback, for the card: {attempts, owner} or False."""
        self.ensure_one()
        if not self.external_key or self.direction != "incoming":
            return False
        # sudo: the card's user was rung by this caller; only how many times
        #   they were missed and who owns the callback are shown
        waiting = (
            self.env["pbx.call"]
            .sudo()
            .search(
                [
                    ("callback_open", "=", True),
                    ("external_key", "=", self.external_key),
                    ("company_id", "=", self.company_id.id),
                ],
                limit=1,
            )
        )
        if not waiting:
            return False
        return {
            "attempts": waiting.callback_attempts,
            "owner": waiting.callback_owner_id.name or "",
        }

    def _pbx_popup_people(self, fresh=False):
        """The card's people: ``{"patients": [...], "leads": [...], "callback": ...}``
        (the caller's open callback, see ``_pbx_popup_open_callback``).

        Every phone of a ring group rings for the same call at once, and each
        ring is its own request: the card's people are built once per process
        and call, and reused for ``CARD_CACHE_SECONDS`` while the call's
        patients and leads stay the same (a patient or lead found during the
        call changes them, and ``_pbx_popup_update`` asks ``fresh``). The
        result is shared: read it, do not change it.
        """
        self.ensure_one()
        linked = self.with_context(active_test=False)
        key = (
            self.env.cr.dbname,
            self.id,
            tuple(linked.partner_ids.ids),
            tuple(linked.lead_ids.ids),
            self.company_id.id,
            self.env.lang,
        )
        if not fresh and (people := _card_cache.get(key)) is not None:
            return people
        people = self._pbx_popup_build_people()
        # kept once what it was read from is committed (not from a
        # transaction that is rolled back and replayed)
        self.env.cr.postcommit.add(lambda: _card_cache.put(key, people))
        return people

    def _pbx_popup_build_people(self):
        partner_fields = self.env["res.partner"]._fields
        birthdate_field = next(
            (
                name
                for name in BIRTHDATE_FIELDS
                if name in partner_fields and partner_fields[name].type == "date"
            ),
            None,
        )
        # Only what the card shows is read: contacts and leads are wide.
        linked = self.with_context(active_test=False)
        partners = linked.partner_ids
        partners.fetch(
            ["active", "name", "complete_name", "ref", *filter(None, [birthdate_field])]
        )
        partners = partners.filtered("active")[:MAX_PATIENTS]
        leads, last_calls, last_touches = self._pbx_popup_card_rows(
            partners, linked.lead_ids.ids
        )
        own_leads, other_leads = defaultdict(list), []
        for owner, lead in leads:
            (own_leads[owner] if owner in partners.ids else other_leads).append(lead)
        patients = []
        for partner in partners:
            birthdate = partner[birthdate_field] if birthdate_field else False
            touch = last_touches.get(partner.id)
            if touch:
                # named as pbx.touch names itself: its channel and patient
                who = partner.display_name
                touch = {
                    "name": f"{touch['channel']}: {who}" if who else touch["channel"],
                    "date": touch["date"],
                }
            patients.append(
                {
                    "id": partner.id,
                    "name": partner.name or partner.display_name,
                    "ref": partner.ref or False,
                    "birthdate": fields.Date.to_string(birthdate)
                    if birthdate
                    else False,
                    "last_call": last_calls.get(partner.id, False),
                    "last_touch": touch or False,
                    "leads": own_leads[partner.id][:MAX_LEADS],
                }
            )
        return {
            "patients": patients,
            "leads": other_leads[:MAX_LEADS],
            "callback": self._pbx_popup_open_callback(),
        }

    def _pbx_popup_card_rows(self, partners, lead_ids):
        """What the card shows besides the patients, in one statement:

        - the open leads of the number and of its patients (newest first, in
          the call's company or none), as ``[(partner id, {id, name, stage})]``;
        - {partner id: the patient's latest other call of this company}, read
          from the patients' side of the link (an index hit);
        - {partner id: {channel, date}} of each patient's latest touch of this
          call's company (a patient may be shared by several clinics).

        Read as superuser (the card goes only to the users the call rang).
        """
        self.ensure_one()
        if not partners and not lead_ids:
            return [], {}, {}
        env = self.env
        env["pbx.call"].flush_model(
            [
                "start",
                "company_id",
                "partner_ids",
                "direction",
                "disposition",
                "user_id",
            ]
        )
        env["crm.lead"].flush_model(
            ["active", "name", "partner_id", "company_id", "stage_id"]
        )
        env["crm.stage"].flush_model(["name", "is_won"])
        env["pbx.touch"].flush_model(["partner_id", "company_id", "date", "channel"])
        env["res.users"].flush_model(["partner_id"])
        env["res.partner"].flush_model(["name"])
        partner_ids, company_id = partners.ids, self.company_id.id
        env.cr.execute(
            SQL(
                """
                (SELECT 'lead', l.partner_id, l.id, l.name,
                        COALESCE(s.name->>%(lang)s, s.name->>'en_US'),
                        NULL::timestamp, NULL::varchar, NULL::varchar
                 FROM crm_lead l LEFT JOIN crm_stage s ON s.id = l.stage_id
                 WHERE l.active
                   AND (l.id = ANY(%(leads)s) OR l.partner_id = ANY(%(partners)s))
                   AND (l.company_id IS NULL OR l.company_id = %(company)s)
                   AND s.is_won IS NOT TRUE
                 ORDER BY l.id DESC LIMIT 20)
                UNION ALL
                (SELECT DISTINCT ON (rel.partner_id) 'call', rel.partner_id,
                        call.id, admin.name, NULL, call.start, call.direction,
                        call.disposition
                 FROM pbx_call_partner_rel rel
                 JOIN pbx_call call ON call.id = rel.call_id
                 LEFT JOIN res_users u ON u.id = call.user_id
                 LEFT JOIN res_partner admin ON admin.id = u.partner_id
                 WHERE rel.partner_id = ANY(%(partners)s)
                   AND call.id != %(call)s
                   AND call.company_id = %(company)s
                 ORDER BY rel.partner_id, call.start DESC, call.id DESC)
                UNION ALL
                (SELECT DISTINCT ON (t.partner_id) 'touch', t.partner_id, t.id,
                        NULL, NULL, t.date, t.channel, NULL
                 FROM pbx_touch t
                 WHERE t.partner_id = ANY(%(partners)s)
                   AND t.company_id = %(company)s
                 ORDER BY t.partner_id, t.date DESC, t.id DESC)
                """,
                lang=env.lang or "en_US",
                leads=lead_ids,
                partners=partner_ids,
                company=company_id,
                call=self.id,
            )
        )
        dispositions = dict(self._fields["disposition"].selection)
        directions = dict(self._fields["direction"].selection)
        channels = dict(env["pbx.touch"]._fields["channel"].selection)
        leads, last_calls, last_touches = [], {}, {}
        for kind, partner_id, rid, name, stage, date, code1, code2 in env.cr.fetchall():
            if kind == "lead":
                leads.append(
                    (partner_id, {"id": rid, "name": name or "", "stage": stage or ""})
                )
            elif kind == "call":
                last_calls[partner_id] = {
                    "start": fields.Datetime.to_string(date),
                    "direction": directions.get(code1, ""),
                    "disposition": dispositions.get(code2, "") if code2 else "",
                    "user_name": name or "",
                }
            else:
                last_touches[partner_id] = {
                    "channel": channels.get(code1, ""),
                    "date": fields.Datetime.to_string(date),
                }
        return leads, last_calls, last_touches

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
        # sudo: only calls that rang this PBX user (group checked above), as the 'rang
        #   my extension' rule allows; the bus brings them these cards anyway
        calls = self.sudo().search(
            [
                ("state", "=", "ringing"),
                ("direction", "=", "incoming"),
                ("rang_user_ids", "in", user.ids),
                ("write_date", ">=", since),
            ],
            order="write_date, id",
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
        # sudo: read access was checked above, and the call must have rung this user
        #   (checked just below)
        call = self.sudo()
        if user not in call.rang_user_ids:
            raise AccessError(_("This call did not ring your extension."))
        if call.state == "done":
            raise UserError(_("This call has already ended."))
        taken = call._claim(user)
        payload = call._pbx_popup_taken_payload()
        if taken:
            call._pbx_popup_send(
                call._pbx_popup_recipients(), "pbx.call/taken", payload
            )
        return {
            "taken": taken,
            "user_id": payload["user_id"],
            "user_name": payload["user_name"],
        }

    def action_pbx_log_touch(self, partner_id=False):
        """The touch form for this call, with the patient chosen on the card."""
        self.ensure_one()
        self.check_access("read")
        self.env["pbx.touch"].check_access("create")
        action = self.action_log_touch()
        partner = self.env["res.partner"].browse(partner_id or []).exists()
        # sudo: read access on the call was checked above; only tests whether the
        #   patient is on it
        if partner and partner in self.sudo().partner_ids:
            action["context"]["default_partner_id"] = partner.id
        return action
