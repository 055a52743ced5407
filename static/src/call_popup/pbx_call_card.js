import { Component, useState } from "@odoo/owl";
import { deserializeDate, deserializeDateTime, formatDate, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

/**
 * One incoming call: the caller's number, the patients and leads behind it,
 * and what the receptionist can do. Every value from the PBX or a caller is
 * rendered with t-esc (as text), never as markup.
 */
export class PbxCallCard extends Component {
    static template = "clinic_pbx.PbxCallCard";
    static props = { card: Object };

    setup() {
        this.popups = useService("clinic_pbx.call_popup");
        this.popupState = useState(this.popups.state);
    }

    get card() {
        return this.props.card;
    }

    get ring() {
        return this.props.card.ring;
    }

    /** Lead names show for everyone; the link only for users who may open leads. */
    get canOpenLeads() {
        return this.popupState.canOpenLeads;
    }

    get canCreatePatients() {
        return this.popupState.canCreatePatients;
    }

    get statusText() {
        const card = this.card;
        switch (card.status) {
            case "mine":
                return _t("You took this call");
            case "taken":
                if (card.takerName) {
                    return _t("Answered by %s", card.takerName);
                }
                if (card.takerExtension) {
                    return _t("Answered at extension %s", card.takerExtension);
                }
                return _t("Answered");
            case "missed":
                return _t("Missed call");
            default:
                return _t("Incoming call");
        }
    }

    formatDateTime(value) {
        return value ? formatDateTime(deserializeDateTime(value)) : "";
    }

    formatDate(value) {
        return value ? formatDate(deserializeDate(value)) : "";
    }

    onTake() {
        return this.popups.take(this.card);
    }

    onDismiss() {
        this.popups.dismiss(this.card);
    }

    onOpenPatient(patient) {
        return this.popups.openPatient(patient.id);
    }

    onCreatePatient() {
        return this.popups.createPatient(this.card);
    }

    onOpenLead(lead) {
        return this.popups.openLead(lead.id);
    }

    onLogTouch(patient) {
        return this.popups.logTouch(this.card, patient ? patient.id : false);
    }
}
