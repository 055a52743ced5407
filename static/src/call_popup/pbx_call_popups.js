import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { PbxCallCard } from "./pbx_call_card";

/** The stack of incoming-call cards, on top of every screen of the backend. */
export class PbxCallPopups extends Component {
    static template = "clinic_pbx.PbxCallPopups";
    static props = {};
    static components = { PbxCallCard };

    setup() {
        this.popups = useService("clinic_pbx.call_popup");
        this.state = useState(this.popups.state);
    }
}
