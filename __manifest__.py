# Copyright 2026 Clinic PBX
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Clinic PBX",
    "summary": "Call log with recordings, calls report, touches, Calltouch and "
    "Callmarker, and live pop-ups for shared extensions",
    "version": "18.0.1.4.0",
    "category": "Productivity/PBX",
    "author": "Clinic PBX",
    "maintainers": ["clinic-pbx"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": True,
    "installable": True,
    "external_dependencies": {"python": ["phonenumbers", "PyMySQL"]},
    # The Apps store's cover picture; the page itself is static/description.
    "images": ["static/description/call_popup.png"],
    "depends": [
        "mail",
        "bus",
        "contacts",
        "crm",
        "phone_validation",
        "resource",
        "sms",
        "utm",
    ],
    "data": [
        "security/clinic_pbx_security.xml",
        "security/ir.model.access.csv",
        "security/clinic_pbx_rules.xml",
        "data/ir_config_parameter_data.xml",
        "data/ir_cron_data.xml",
        "data/mail_activity_type_data.xml",
        "data/sms_template_data.xml",
        "views/pbx_call_views.xml",
        "views/pbx_call_report_views.xml",
        "views/pbx_connection_views.xml",
        "views/res_users_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
        "views/res_config_settings_views.xml",
        "views/pbx_touch_views.xml",
        "views/pbx_call_missed_calls_views.xml",
        "views/pbx_clinic_number_views.xml",
        "wizard/pbx_connection_token_views.xml",
        "views/freepbx/pbx_connection_views.xml",
        "views/calltouch/res_config_settings_views.xml",
        "views/callmarker/pbx_call_views.xml",
        "views/callmarker/pbx_call_tag_views.xml",
        "views/callmarker/pbx_callmarker_push_views.xml",
        "views/callmarker/res_config_settings_views.xml",
        "views/clinic_pbx_menus.xml",
    ],
    "uninstall_hook": "uninstall_hook",
    "demo": [
        "demo/clinic_pbx_demo.xml",
        "demo/callmarker_demo.xml",
        "demo/pbx_touch_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "clinic_pbx/static/src/**/*",
            # The report extends the pivot and graph views, which Odoo loads
            # on first use.
            ("remove", "clinic_pbx/static/src/calls_report/**/*"),
        ],
        "web.assets_backend_lazy": [
            "clinic_pbx/static/src/calls_report/**/*",
        ],
        "web.assets_tests": [
            "clinic_pbx/static/tests/tours/**/*",
        ],
        "web.assets_unit_tests": [
            "clinic_pbx/static/tests/**/*.test.js",
        ],
    },
}
