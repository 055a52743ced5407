import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("clinic_pbx_touch_tour", {
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
            content: "Open Touches",
            trigger: '.o_menu_sections [data-menu-xmlid="clinic_pbx.pbx_touch_menu"]',
            run: "click",
        },
        {
            content: "Log a new touch",
            trigger: ".o_breadcrumb:contains(Touches)",
        },
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "It was a visit",
            trigger: ".o_field_widget[name=channel] select",
            run: "selectByLabel Visit",
        },
        {
            content: "Type the patient's number: the patient is found",
            trigger: ".o_field_widget[name=phone] input",
            run: "edit 8 916 555-00-11 && press Tab",
        },
        {
            trigger: ".o_field_widget[name=partner_id] input:value(Tour Patient)",
        },
        {
            trigger: ".o_field_widget[name=comment] textarea",
            run: "edit Asked about implant prices",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved under the patient's name",
            trigger: ".o_form_saved .o_field_widget[name=partner_id]",
        },
        {
            trigger: ".o_breadcrumb:contains(Visit: Tour Patient)",
        },
    ],
});

registry.category("web_tour.tours").add("clinic_pbx_calltouch_settings_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            trigger: '.o_app[data-menu-xmlid="clinic_pbx.clinic_pbx_menu_root"]',
            run: "click",
        },
        {
            trigger:
                '.o_menu_sections [data-menu-xmlid="clinic_pbx.clinic_pbx_menu_configuration"]',
            run: "click",
        },
        {
            trigger: '.dropdown-item[data-menu-xmlid="clinic_pbx.clinic_pbx_menu_settings"]',
            run: "click",
        },
        {
            content: "The Calltouch block is in the PBX settings",
            trigger: ".o_setting_box#calltouch_service",
        },
        {
            content: "Turn the service on",
            trigger: ".o_setting_box#calltouch_service .o_field_boolean input",
            run: "click",
        },
        {
            content: "Its fields appear with Calltouch's endpoints",
            trigger:
                ".o_field_widget[name=calltouch_call_url] input:value(https://api.calltouch.ru/calls-service/RestAPI/{siteId}/calls-diary/calls)",
        },
        {
            trigger: ".o_field_widget[name=calltouch_token] input[type=password]",
        },
        {
            trigger: "button[name=action_calltouch_test_connection]",
        },
        {
            content: "Leave the settings as they were",
            trigger: ".o_form_button_cancel",
            run: "click",
        },
        {
            trigger: ".o_setting_box#calltouch_service .o_field_boolean input:not(:checked)",
        },
    ],
});
