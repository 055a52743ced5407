import { registry } from "@web/core/registry";

/**
 * A manager opens the Call Log, narrows it to the missed calls of one admin,
 * then plays a recording of that admin in place.
 */
registry.category("web_tour.tours").add("clinic_pbx_call_log_tour", {
    url: "/odoo/action-clinic_pbx.pbx_call_action",
    steps: () => [
        {
            content: "The Call Log lists calls",
            trigger: ".o_list_renderer .o_data_row",
        },
        {
            content: "Search an admin by name",
            trigger: ".o_searchview_input",
            run: "edit Tour Anna",
        },
        {
            content: "Choose to search the Admin",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains(Admin)",
            run: "click",
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Keep only missed calls",
            trigger: '.o_filter_menu .o-dropdown-item:contains("Missed"):not(:contains(Called))',
            run: "click",
        },
        {
            content: "Only Anna's missed call is left",
            trigger:
                ".o_list_renderer:not(:has(.o_data_row ~ .o_data_row)) .o_data_row:contains(916 111-11-11):contains(Missed)",
        },
        {
            content: "Show her answered calls again",
            trigger: '.o_filter_menu .o-dropdown-item:contains("Missed"):not(:contains(Called))',
            run: "click",
        },
        {
            content: "Listen to the recording of her answered call",
            trigger: ".o_data_row:contains(916 222-22-22) .o_pbx_listen_button",
            run: "click",
        },
        {
            content: "The recording plays in place",
            trigger: ".o_data_row:contains(916 222-22-22) audio.o_pbx_listen_player",
            async run() {
                const audio = this.anchor;
                if (audio.readyState < 3 || audio.paused) {
                    await new Promise((resolve, reject) => {
                        audio.addEventListener("playing", resolve, { once: true });
                        audio.addEventListener("error", () => reject(new Error("audio error")), {
                            once: true,
                        });
                    });
                }
                if (!audio.duration || audio.duration < 1) {
                    throw new Error(`unexpected recording duration ${audio.duration}`);
                }
            },
        },
    ],
});
