import logging
import re
from pathlib import Path

from odoo.tests import HttpCase, tagged

from odoo.addons.web.tests.test_js import unit_test_error_checker

# This addon's Hoot suite: every test of static/tests/**/*.test.js is in it,
# named after its file ("@clinic_pbx/pbx_call_popup_service/...").
SUITE = "@clinic_pbx"
TEST_FILES = Path(__file__).resolve().parent.parent / "static" / "tests"
# A test as the files declare it: test("…", …), also test.skip / test.todo,
# which must not slip through as a green run.
DECLARED_TEST = re.compile(
    r"""^\s*test(?:\.(?:skip|todo|only|debug))?\(\s*["'`]""", re.M
)
PASSED_TEST = re.compile(r'Test "(@clinic_pbx/[^"]+)" passed')
SUITE_RESULT = re.compile(r"passed (\d+) tests")


def hoot_id(name):
    """Hoot's id of a suite or test, as its URL filters take it (the hash of
    web/tests/test_js.py and of Hoot's generateHash)."""
    value = 0
    for char in name:
        value = ((value << 5) - value + ord(char)) & 0xFFFFFFFF
    return f"{value:08x}"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestJsUnit(HttpCase):
    """Runs this addon's Hoot unit tests (the pop-up manager and the Calls
    Report's batching) headless, as web/tests/test_js.py runs web's."""

    def declared_tests(self):
        """How many tests the files declare, once each is known to be in
        the unit test bundle (without it Hoot would find nothing to run)."""
        files = sorted(TEST_FILES.rglob("*.test.js"))
        self.assertTrue(files, "no Hoot test file in static/tests")
        bundled = {
            asset["url"]
            for asset in self.env["ir.qweb"]._get_asset_content(
                "web.assets_unit_tests"
            )[0]
        }
        for file in files:
            url = f"/clinic_pbx/static/tests/{file.relative_to(TEST_FILES)}"
            if url not in bundled:
                self.fail(f"{url} is not in the web.assets_unit_tests bundle")
        return sum(len(DECLARED_TEST.findall(f.read_text())) for f in files)

    def test_hoot_suite(self):
        declared = self.declared_tests()
        suite_id = hoot_id(SUITE)
        url = (
            "/web/tests?headless&loglevel=2&preset=desktop&timeout=15000"
            f"&suite={suite_id}"
        )
        # The browser's console reaches the log at INFO: Hoot writes there
        # which tests passed.
        browser_logger = self._logger.getChild("browser")
        collect = _Collect()
        previous_level = browser_logger.level
        browser_logger.setLevel(logging.INFO)
        browser_logger.addHandler(collect)
        try:
            self.browser_js(
                url,
                "",
                "",
                login="admin",
                timeout=300,
                success_signal="[HOOT] test suite succeeded",
                error_checker=unit_test_error_checker,
            )
        finally:
            browser_logger.removeHandler(collect)
            browser_logger.setLevel(previous_level)
        # A green run must have run every declared test: an empty suite (a
        # broken bundle, a wrong filter) or a skipped test also ends with
        # "test suite succeeded".
        passed = {match for m in collect.messages for match in PASSED_TEST.findall(m)}
        totals = [
            int(match) for m in collect.messages for match in SUITE_RESULT.findall(m)
        ]
        self.assertEqual(
            totals,
            [declared],
            f"Hoot ran {totals} tests, {declared} are declared; passed: {passed}",
        )
        self.assertEqual(len(passed), declared, passed)
