"""The one client shape of the web services: how long it waits, and where.

A client waits its class's ``(connect, read)`` timeout unless it is given
its own, which the companies' clients take from a system parameter. That
pair is what ``requests`` gets, in production and in these tests alike:
Odoo's guard on outgoing requests in tests lets it through unchanged.
"""

from datetime import datetime
from unittest.mock import patch

from requests.adapters import HTTPAdapter

from odoo.tests import TransactionCase, tagged

from odoo.addons.clinic_pbx.tools.callmarker_adapter import CallmarkerClient
from odoo.addons.clinic_pbx.tools.calltouch import CalltouchClient
from odoo.addons.clinic_pbx.tools.http_service import ServiceClient, Timeout

from .fakes.callmarker_server import CallmarkerServer
from .fakes.calltouch_server import CalltouchServer

CALLTOUCH_LOGGER = "odoo.addons.clinic_pbx.models.calltouch.res_company"


@tagged("post_install", "-at_install")
class TestServiceClient(TransactionCase):
    def timeouts_sent(self, request):
        """The timeouts ``requests`` was given by ``request()``."""
        sent = []
        send = HTTPAdapter.send

        def spy(adapter, prepared, **kwargs):
            sent.append(kwargs.get("timeout"))
            return send(adapter, prepared, **kwargs)

        with patch.object(HTTPAdapter, "send", spy):
            request()
        return sent

    def test_a_timeout_is_to_connect_and_to_read(self):
        self.assertEqual(Timeout(5, 30), (5, 30))
        self.assertEqual((Timeout(5, 30).connect, Timeout(5, 30).read), (5, 30))
        self.assertEqual(Timeout(20), (20, 20))
        self.assertEqual(Timeout.of(12), (12, 12))
        self.assertEqual(Timeout.of([3, 9]), (3, 9))
        self.assertEqual(Timeout.parse("5, 30"), (5.0, 30.0))
        self.assertEqual(Timeout.parse("10"), (10.0, 10.0))
        for text in ("", "0", "-1", "5,30,60", "soon", "5,7200"):
            with self.subTest(text=text), self.assertRaises(ValueError):
                Timeout.parse(text)
        # Against a number (as Odoo's test guard compares it with 10 s) a
        # timeout is how long it waits for the answer.
        self.assertFalse(Timeout(5, 30) < 10)
        self.assertTrue(Timeout(30, 5) < 10)
        self.assertTrue(Timeout(5, 10) >= 10)
        self.assertLess(Timeout(5, 10), Timeout(5, 30))

    def test_a_client_waits_its_class_timeout_unless_given_its_own(self):
        self.assertEqual(CallmarkerClient.timeout, (5, 30))
        self.assertEqual(CalltouchClient.timeout, (20, 20))
        urls = ("https://cm.example/results", "https://cm.example/calls")
        self.assertEqual(CallmarkerClient(*urls, "clinic", "t").timeout, (5, 30))
        own = CallmarkerClient(*urls, "clinic", "t", timeout=(5, 45))
        self.assertEqual(own.timeout, (5, 45))
        self.assertIsInstance(own.timeout, Timeout)
        self.assertEqual(CallmarkerClient.timeout, (5, 30), "the class keeps its own")

    def test_a_client_under_a_base_url(self):
        client = ServiceClient("https://pbx.example/ari", "t")
        self.assertEqual(
            client._url("channels/1"), "https://pbx.example/ari/channels/1"
        )
        self.assertEqual(client._url("https://other/x"), "https://other/x")

    def test_the_companies_clients_take_the_system_parameter(self):
        company = self.env.company.sudo()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(company._callmarker_client().timeout, (5, 30))
        self.assertEqual(company._calltouch_client().timeout, (20, 20))
        params.set_param("clinic_pbx.callmarker_timeout", "5,45")
        params.set_param("clinic_pbx.calltouch_timeout", "60")
        self.assertEqual(company._callmarker_client().timeout, (5, 45))
        self.assertEqual(company._calltouch_client().timeout, (60, 60))
        params.set_param("clinic_pbx.calltouch_timeout", "soon")
        with self.assertLogs(CALLTOUCH_LOGGER, "WARNING") as logs:
            self.assertEqual(company._calltouch_client().timeout, (20, 20))
        self.assertIn("clinic_pbx.calltouch_timeout ignored", logs.output[0])

    def test_the_service_gets_the_timeout_production_sends(self):
        callmarker = CallmarkerServer().start()
        self.addCleanup(callmarker.stop)
        client = CallmarkerClient(
            callmarker.results_url,
            callmarker.push_url,
            callmarker.integration_id,
            callmarker.token,
        )
        sent = self.timeouts_sent(
            lambda: client.check_connection(datetime(2026, 11, 5, 12))
        )
        self.assertEqual(sent, [(5, 30)])

        calltouch = CalltouchServer(site_id="67120", token="ct-token").start()
        self.addCleanup(calltouch.stop)
        client = CalltouchClient(
            calltouch.call_url, calltouch.request_url, "67120", "ct-token"
        )
        self.assertEqual(self.timeouts_sent(client.probe_calls), [(20, 20)])
