"""pytest plugin for `make test`: a skipped test is a failed run.

Odoo skips browser tests when Chromium or websocket-client is missing and
HttpCase tests when no HTTP server runs; in this project that means the suite
did not really run, so the run must not be green.
"""

import pytest

_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(
            f"clinic_pbx: {len(_skipped)} test(s) were skipped; make test treats "
            "that as a failure (missing Chromium, websocket-client or HTTP server?)",
            red=True,
        )


@pytest.fixture(scope="session", autouse=True)
def _manifests_read_once():
    """Read every module's manifest once, before the HTTP server's threads do.

    Odoo caches manifests after their first read, but the first reads of a
    run happen in the server's threads at once (assets, tours), and CPython
    3.11 before 3.11.8 can fail parsing in several threads at the same time
    ("SystemError: AST constructor recursion depth mismatch", gh-106905).
    """
    import odoo.modules.module

    for module in odoo.modules.module.get_modules():
        odoo.modules.module.get_manifest(module)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Odoo's own runner marks the running test so that HTTP requests made by
    # it (and by the browser it drives) may use its test cursor; pytest-odoo
    # does this only for Odoo 19+.
    instance = getattr(item, "instance", None)
    if instance is not None:
        import odoo.modules.module

        odoo.modules.module.current_test = instance


def pytest_runtest_teardown(item):
    import odoo.modules.module

    odoo.modules.module.current_test = False
