import { registry } from "@web/core/registry";

/**
 * A receptionist finds a missed patient on PBX › Missed Calls and calls the
 * number back (a tel: link to the softphone); once the PBX reports the
 * answered call back, the callback is gone from the list and done on the
 * patient.
 */
registry.category("web_tour.tours").add("clinic_pbx_missed_calls_tour", {
    url: "/odoo/action-clinic_pbx.pbx_call_action_missed_calls",
    steps: () => [
        {
            content: "The missed patient waits for a call back, owned by me",
            trigger:
                ".o_data_row:contains(Irina Volkova):contains(916 444-44-44):has(.o_field_many2one_avatar_user:contains(Missed Tour Anna))",
        },
        {
            content: "Call the number back",
            trigger: ".o_data_row:contains(Irina Volkova) a[href^='tel:']",
            run() {
                const href = this.anchor.getAttribute("href");
                if (href.replace(/\D/g, "") !== "79164444444") {
                    throw new Error(`the call back link dials ${href}`);
                }
                // The softphone takes tel: links; the browser stays here.
                this.anchor.addEventListener("click", (ev) => ev.preventDefault(), {
                    once: true,
                });
                this.anchor.click();
            },
        },
    ],
});

registry.category("web_tour.tours").add("clinic_pbx_missed_calls_done_tour", {
    url: "/odoo/action-clinic_pbx.pbx_call_action_missed_calls",
    steps: () => [
        {
            content: "No missed call waits for a call back any more",
            trigger: ".o_view_nocontent:contains(No missed call waits for a call back)",
        },
    ],
});

registry.category("web_tour.tours").add("clinic_pbx_missed_calls_patient_tour", {
    steps: () => [
        {
            content: "The patient's chatter says who called back, and when",
            trigger:
                ".o-mail-Chatter .o-mail-Message:contains(Call back):contains(Called back by Missed Tour Anna)",
        },
        {
            content: "Nothing is left to do on the patient",
            trigger: ".o-mail-Chatter:not(:has(.o-mail-Activity))",
        },
    ],
});
