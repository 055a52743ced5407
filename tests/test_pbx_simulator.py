import importlib.util
import os
import subprocess
import sys

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import make_connection

SIMULATOR = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "scripts", "pbx_simulator.py"
)
_spec = importlib.util.spec_from_file_location("pbx_simulator", SIMULATOR)
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


@tagged("post_install", "-at_install")
class TestPbxSimulator(HttpCase):
    """The simulator's scenarios give the calls a real PBX would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection, cls.token = make_connection(cls.env)
        cls.desk = [
            new_test_user(
                cls.env,
                login=f"sim_desk_{i}",
                groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
                pbx_extension="101",
            )
            for i in range(2)
        ]

    def api(self, token=None):
        # The test's HTTP session carries the cookie that lets the server use
        # the test's transaction.
        return sim.EventApi(self.base_url(), token or self.token, session=self.opener)

    def call(self, external_id):
        return self.env["pbx.call"].search(
            [
                ("connection_id", "=", self.connection.id),
                ("external_id", "=", external_id),
            ]
        )

    def quiet(self, _message):
        pass

    def test_answered_call_on_the_shared_extension(self):
        call = sim.SimulatedCall("8 916 123-45-67", "101", clock=sim.Clock(speed=0))
        sim.scenario_answered(
            self.api(), call, ring_seconds=7, talk_seconds=95, log=self.quiet
        )
        record = self.call(call.call_id)
        self.assertEqual(record.state, "done")
        self.assertEqual(record.disposition, "answered")
        self.assertEqual((record.wait_seconds, record.talk_seconds), (7, 95))
        self.assertEqual(record.rang_user_ids, self.desk[0] | self.desk[1])
        self.assertEqual(record.external_key, "+79161234567")

    def test_missed_call(self):
        call = sim.SimulatedCall("+7 925 000-11-22", "101", clock=sim.Clock(speed=0))
        sim.scenario_missed(self.api(), call, ring_seconds=25, log=self.quiet)
        record = self.call(call.call_id)
        self.assertTrue(record.missed)
        self.assertEqual(record.wait_seconds, 25)

    def test_a_call_left_ringing(self):
        call = sim.SimulatedCall("+7 925 000-11-22", "101", clock=sim.Clock(speed=0))
        sim.scenario_ring(self.api(), call, log=self.quiet)
        self.assertEqual(self.call(call.call_id).state, "ringing")

    def test_burst_creates_every_call_once(self):
        result = sim.scenario_burst(
            self.api(), calls=20, concurrency=2, seed=3, log=self.quiet
        )
        self.assertEqual((result["calls"], result["errors"]), (20, 0))
        calls = self.env["pbx.call"].search(
            [("connection_id", "=", self.connection.id)]
        )
        self.assertEqual(len(calls), 20)
        self.assertEqual(set(calls.mapped("state")), {"done"})
        answered = calls.filtered(lambda c: c.disposition == "answered")
        self.assertTrue(answered and calls - answered, "a mix of answered and missed")
        self.assertEqual(set((calls - answered).mapped("missed")), {True})
        # ringing + hangup for each call, plus the answer of the answered ones
        self.assertEqual(result["events"], 2 * len(calls) + len(answered))

    @mute_logger("odoo.http")
    def test_a_wrong_token_is_reported(self):
        call = sim.SimulatedCall("+7 925 000-11-22", "101", clock=sim.Clock(speed=0))
        with self.assertRaisesRegex(sim.SimulatorError, "401"):
            sim.scenario_ring(self.api(token="wrong"), call, log=self.quiet)

    def test_the_simulator_runs_without_odoo(self):
        code = (
            "import sys, runpy; sys.modules['odoo'] = None; "
            f"sys.argv = ['pbx_simulator', '--help']; runpy.run_path({SIMULATOR!r}, "
            "run_name='__main__')"
        )
        env = dict(os.environ, PYTHONPATH="")
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("ring", done.stdout)
