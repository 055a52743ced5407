import { reactive } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { PbxCallPopups } from "./pbx_call_popups";

/** How long a card saying "answered by …" or "missed" stays before it closes. */
export const CLOSE_DELAY_MS = 4000;

/**
 * Incoming-call pop-ups: listens to the user's own bus channel for
 * `pbx.call/ring`, `pbx.call/taken`, `pbx.call/missed` and `pbx.call/update`
 * (sent by models/pbx_call_popup.py) and keeps the cards shown by
 * PbxCallPopups.
 *
 * A card: { callId, status: "ringing" | "mine" | "taken" | "missed",
 *           ring: <ring payload>, takerName, takerExtension, busy }.
 * Everything in `ring` comes from the PBX or a caller and is rendered as text.
 */
export class PbxCallPopupManager {
    constructor(env, services) {
        this.env = env;
        this.bus = services.bus_service;
        this.multiTab = services.multi_tab;
        this.orm = services.orm;
        this.action = services.action;
        this.notification = services.notification;
        this.soundEffects = services["mail.sound_effects"];
        // canOpenLeads, canCreatePatients: null until the first card asks
        // (one access check each).
        this.state = reactive({ cards: [], canOpenLeads: null, canCreatePatients: null });
        this.timers = new Map();
        // Calls already taken, missed or dismissed here: a ring for them that
        // arrives late (the initial fetch, a replay) must not show them again.
        this.closed = new Set();
        this.playing = false;
    }

    setup() {
        this.bus.subscribe("pbx.call/ring", (payload) => this.onRing(payload));
        this.bus.subscribe("pbx.call/taken", (payload) => this.onTaken(payload));
        this.bus.subscribe("pbx.call/missed", (payload) => this.onMissed(payload));
        this.bus.subscribe("pbx.call/update", (payload) => this.onUpdate(payload));
        this.multiTab.bus.addEventListener("become_main_tab", () => this.updateSound());
        this.multiTab.bus.addEventListener("no_longer_main_tab", () => this.updateSound());
        this.bus.start();
        this.loadRinging();
    }

    async loadRinging() {
        let payloads = [];
        try {
            payloads = await this.orm.silent.call("pbx.call", "pbx_popup_ringing", []);
        } catch {
            return; // no PBX access: nothing rings for this user
        }
        for (const payload of payloads) {
            this.onRing(payload);
        }
    }

    getCard(callId) {
        return this.state.cards.find((card) => card.callId === callId);
    }

    onRing(payload) {
        if (this.closed.has(payload.call_id)) {
            return;
        }
        if (this.state.canOpenLeads === null) {
            this.state.canOpenLeads = false;
            user.checkAccessRight("crm.lead", "read").then(
                (allowed) => (this.state.canOpenLeads = allowed),
                () => {}
            );
        }
        if (this.state.canCreatePatients === null) {
            this.state.canCreatePatients = false;
            user.checkAccessRight("res.partner", "create").then(
                (allowed) => (this.state.canCreatePatients = allowed),
                () => {}
            );
        }
        let card = this.getCard(payload.call_id);
        if (card) {
            card.ring = payload;
        } else {
            this.state.cards.push({
                callId: payload.call_id,
                status: "ringing",
                ring: payload,
                takerName: false,
                takerExtension: false,
                busy: false,
            });
            card = this.getCard(payload.call_id);
        }
        // A ringing call whose end never reaches us must not stay forever.
        this.schedule(card, Math.max(1, payload.expires_in || 0) * 1000);
        this.updateSound();
    }

    /** New patients or leads of a call whose card is on screen. */
    onUpdate(payload) {
        const card = this.getCard(payload.call_id);
        if (card) {
            card.ring = payload;
        }
    }

    onTaken(payload) {
        this.closed.add(payload.call_id);
        const card = this.getCard(payload.call_id);
        if (!card) {
            return;
        }
        if (payload.user_id && payload.user_id === user.userId) {
            // Taken by me (here or in another tab): the card stays, with its
            // actions, until I close it.
            card.status = "mine";
            this.clearTimer(card);
        } else if (card.status !== "mine") {
            card.status = "taken";
            card.takerName = payload.user_name;
            card.takerExtension = payload.extension;
            this.schedule(card, CLOSE_DELAY_MS);
        }
        this.updateSound();
    }

    onMissed(payload) {
        this.closed.add(payload.call_id);
        const card = this.getCard(payload.call_id);
        if (!card || card.status === "mine") {
            return;
        }
        card.status = "missed";
        this.schedule(card, CLOSE_DELAY_MS);
        this.updateSound();
    }

    schedule(card, delay) {
        this.clearTimer(card);
        const callId = card.callId;
        this.timers.set(
            callId,
            browser.setTimeout(() => this.remove(callId), delay)
        );
    }

    clearTimer(card) {
        if (this.timers.has(card.callId)) {
            browser.clearTimeout(this.timers.get(card.callId));
            this.timers.delete(card.callId);
        }
    }

    remove(callId) {
        const index = this.state.cards.findIndex((card) => card.callId === callId);
        if (index >= 0) {
            this.clearTimer(this.state.cards[index]);
            this.state.cards.splice(index, 1);
        }
        this.updateSound();
    }

    dismiss(card) {
        this.closed.add(card.callId);
        this.remove(card.callId);
    }

    /** Ring only while a card rings, and only in the main tab. */
    updateSound() {
        const ringing = this.state.cards.some((card) => card.status === "ringing");
        if (ringing && this.multiTab.isOnMainTab()) {
            if (!this.playing) {
                this.soundEffects.play("incoming-call", { loop: true });
                this.playing = true;
            }
        } else if (this.playing) {
            this.soundEffects.stop("incoming-call");
            this.playing = false;
        }
    }

    // ------------------------------------------------------------------
    // Actions of a card
    // ------------------------------------------------------------------

    async take(card) {
        card.busy = true;
        let result;
        try {
            result = await this.orm.call("pbx.call", "action_pbx_take", [[card.callId]]);
        } catch (error) {
            card.busy = false;
            this.dismiss(card);
            throw error;
        }
        card.busy = false;
        this.closed.add(card.callId);
        if (result.taken) {
            card.status = "mine";
            this.clearTimer(card);
        } else {
            card.status = "taken";
            card.takerName = result.user_name;
            this.schedule(card, CLOSE_DELAY_MS);
        }
        this.updateSound();
    }

    openPatient(patientId) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "res.partner",
            res_id: patientId,
            views: [[false, "form"]],
        });
    }

    createPatient(card) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            name: _t("New Patient"),
            res_model: "res.partner",
            views: [[false, "form"]],
            context: { default_phone: card.ring.phone },
        });
    }

    openLead(leadId) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "crm.lead",
            res_id: leadId,
            views: [[false, "form"]],
        });
    }

    async logTouch(card, patientId) {
        const action = await this.orm.call(
            "pbx.call",
            "action_pbx_log_touch",
            [[card.callId]],
            { partner_id: patientId || false }
        );
        if (action) {
            return this.action.doAction(action);
        }
        this.notification.add(_t("Touches are not installed."), { type: "warning" });
    }
}

export const pbxCallPopupService = {
    dependencies: [
        "action",
        "bus_service",
        "mail.sound_effects",
        "multi_tab",
        "notification",
        "orm",
    ],
    start(env, services) {
        const manager = new PbxCallPopupManager(env, services);
        registry
            .category("main_components")
            .add("clinic_pbx.PbxCallPopups", { Component: PbxCallPopups });
        manager.setup();
        return manager;
    },
};

registry.category("services").add("clinic_pbx.call_popup", pbxCallPopupService);
