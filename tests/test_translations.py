from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    """The Russian translation is loaded with the module and reaches the UI."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("ru_RU")
        cls.env["ir.module.module"].search(
            [("name", "=", "clinic_pbx")]
        )._update_translations(["ru_RU"])

    def test_menus_and_labels_in_russian(self):
        ru = self.env(context={"lang": "ru_RU"})
        self.assertEqual(ru.ref("clinic_pbx.pbx_call_menu").name, "Журнал звонков")
        self.assertEqual(
            ru.ref("clinic_pbx.pbx_call_report_menu").name, "Отчёт по звонкам"
        )
        fields = ru["pbx.call"].fields_get(["disposition", "talk_seconds"])
        self.assertEqual(fields["talk_seconds"]["string"], "Длительность разговора")
        labels = dict(fields["disposition"]["selection"])
        self.assertEqual(labels["no_answer"], "Пропущенный")
