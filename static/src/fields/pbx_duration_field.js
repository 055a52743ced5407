import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * Seconds as h:mm:ss (or m:ss under an hour), the way call durations are read.
 */
export function formatPbxDuration(value) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    const total = Math.max(0, Math.round(value));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    if (hours) {
        return `${hours}:${String(minutes).padStart(2, "0")}:${seconds}`;
    }
    return `${minutes}:${seconds}`;
}

export class PbxDurationField extends Component {
    static template = "clinic_pbx.PbxDurationField";
    static props = { ...standardFieldProps };

    get formattedValue() {
        return formatPbxDuration(this.props.record.data[this.props.name]);
    }
}

export const pbxDurationField = {
    component: PbxDurationField,
    displayName: "Duration (h:mm:ss)",
    supportedTypes: ["integer", "float"],
};

registry.category("fields").add("pbx_duration", pbxDurationField);
registry.category("formatters").add("pbx_duration", formatPbxDuration);
