import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("clinic_pbx_menu_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the PBX app",
            trigger: '.o_app[data-menu-xmlid="clinic_pbx.clinic_pbx_menu_root"]',
            run: "click",
        },
        {
            content: "The Call Log opens",
            trigger: ".o_breadcrumb:contains(Call Log)",
        },
        {
            content: "Open the Calls Report from the app menu",
            trigger: '.o_menu_sections [data-menu-xmlid="clinic_pbx.pbx_call_report_menu"]',
            run: "click",
        },
        {
            content: "The report opens as a table",
            trigger: ".o_pivot_view",
        },
    ],
});
