import json
import os

import yaml
from openapi_spec_validator import validate

from odoo.tests import HttpCase, tagged

from odoo.addons.clinic_pbx.tools import call_events

from .common import EventApiMixin, make_connection

SPEC = os.path.join(os.path.dirname(__file__), "..", "docs", "openapi.yaml")


@tagged("post_install", "-at_install")
class TestEventApiContract(EventApiMixin, HttpCase):
    """docs/openapi.yaml is valid and says what the code does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(SPEC) as spec_file:
            cls.spec = yaml.safe_load(spec_file)
        cls.connection, cls.token = make_connection(cls.env, name="Contract PBX")

    def test_the_spec_is_valid_openapi(self):
        validate(self.spec)

    def test_enums_and_limits_match_the_validator(self):
        event = self.spec["components"]["schemas"]["Event"]["properties"]
        self.assertEqual(event["type"]["enum"], list(call_events.EVENT_TYPES))
        self.assertEqual(event["direction"]["enum"], list(call_events.DIRECTIONS))
        self.assertEqual(event["disposition"]["enum"], list(call_events.DISPOSITIONS))
        self.assertEqual(event["call_id"]["maxLength"], call_events.MAX_CALL_ID)
        self.assertEqual(event["from"]["maxLength"], call_events.MAX_NUMBER)
        for key in ("from", "to", "did"):
            self.assertEqual(
                event[key]["pattern"], "^(%s)$" % call_events.NUMBER.pattern, key
            )
        self.assertEqual(event["extension"]["maxLength"], call_events.MAX_EXTENSION)
        self.assertEqual(event["talk_seconds"]["maximum"], call_events.MAX_SECONDS)
        self.assertEqual(event["revision"]["maximum"], call_events.MAX_REVISION)
        batch = self.spec["components"]["schemas"]["Batch"]["properties"]["events"]
        self.assertEqual(batch["maxItems"], call_events.MAX_EVENTS)

    def test_every_answer_of_the_route_is_documented(self):
        responses = self.spec["paths"]["/pbx/v1/events"]["post"]["responses"]
        self.assertEqual(
            set(responses),
            {"200", "400", "401", "405", "413", "415", "500", "503"},
        )
        self.assertIn("Retry-After", responses["503"]["headers"])
        self.assertEqual(
            responses["503"]["headers"]["Retry-After"]["schema"]["type"], "integer"
        )

    def test_every_example_is_accepted(self):
        operation = self.spec["paths"]["/pbx/v1/events"]["post"]
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        for name, example in examples.items():
            body = json.dumps(example["value"])
            response = self.post_events(None, self.token, raw=body)
            self.assertEqual(response.status_code, 200, f"{name}: {response.text}")
            self.assertEqual(
                response.json()["accepted"], len(example["value"]["events"]), name
            )
        call = self.env["pbx.call"].search(
            [
                ("connection_id", "=", self.connection.id),
                ("external_id", "=", "1730780250.107"),
            ]
        )
        self.assertEqual(
            (call.state, call.disposition, call.talk_seconds), ("done", "answered", 134)
        )
