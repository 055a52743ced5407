import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * "Listen" control of a call: plays the recording in place through Odoo's
 * recording route (the PBX's own URL never reaches the browser).
 */
export class PbxListenField extends Component {
    static template = "clinic_pbx.PbxListenField";
    static props = { ...standardFieldProps };

    setup() {
        this.state = useState({ open: false });
        this.label = _t("Listen");
    }

    get hasRecording() {
        return Boolean(this.props.record.data[this.props.name]) && this.props.record.resId;
    }

    get src() {
        return `/pbx/recording/${this.props.record.resId}`;
    }

    open() {
        this.state.open = true;
    }
}

export const pbxListenField = {
    component: PbxListenField,
    displayName: "Listen to recording",
    supportedTypes: ["boolean"],
};

registry.category("fields").add("pbx_listen", pbxListenField);
