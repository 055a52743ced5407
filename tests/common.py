import json
import secrets
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import odoo
from odoo import SUPERUSER_ID, api
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tests import new_test_user

from odoo.addons.clinic_pbx.models.pbx_connection import hash_token


def make_pbx_users(env, prefix="pbx"):
    """A plain internal user, a PBX User, a PBX Manager and a listener."""
    return {
        "outsider": new_test_user(
            env, login=f"{prefix}_outsider", groups="base.group_user"
        ),
        "user": new_test_user(
            env,
            login=f"{prefix}_user",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_user",
        ),
        "manager": new_test_user(
            env,
            login=f"{prefix}_manager",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_manager",
        ),
        "listener": new_test_user(
            env,
            login=f"{prefix}_listener",
            groups="base.group_user,clinic_pbx.clinic_pbx_group_recordings",
        ),
    }


def make_connection(env, name="Test PBX", company=None, **values):
    """An Event API connection and its plain API token: (connection, token)."""
    token = secrets.token_urlsafe(32)
    connection = env["pbx.connection"].create(
        {
            "name": name,
            "kind": "event_api",
            "company_id": (company or env.company).id,
            "country_id": env.ref("base.ru").id,
            "timezone": "Europe/Moscow",
            **values,
        }
    )
    connection.sudo().token_hash = hash_token(token)
    return connection, token


def cdr_event(call_id, time, **values):
    """A finished incoming call in Event API v1 form (override any key)."""
    event = {
        "type": "cdr",
        "call_id": call_id,
        "time": time,
        "direction": "incoming",
        "from": "+7 916 123-45-67",
        "to": "+7 495 123-45-00",
        "extension": "101",
        "disposition": "answered",
        "talk_seconds": 60,
        "wait_seconds": 5,
    }
    event.update(values)
    return event


class EventApiMixin:
    """Posting to /pbx/v1/events from an HttpCase."""

    def post_events(self, events, token, content_type="application/json", raw=None):
        body = raw if raw is not None else json.dumps({"events": events})
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.url_open("/pbx/v1/events", data=body, headers=headers, timeout=60)


def real_registry():
    """The registry of the test database, for tests that commit for real."""
    return Registry(odoo.tools.config["db_name"])


@contextmanager
def committed_pbx(extensions=()):
    """A committed Event API connection, and a PBX User on each extension.

    For tests whose requests run in real transactions of their own (several at
    once, or in another process): yields {"connection_id", "token",
    "user_ids"} and deletes all of it, with the connection's calls, at the end.
    """
    suffix = secrets.token_hex(4)
    token = secrets.token_urlsafe(32)
    with real_registry().cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        connection = env["pbx.connection"].create(
            {
                "name": f"Committed PBX {suffix}",
                "kind": "event_api",
                "country_id": env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "token_hash": hash_token(token),
            }
        )
        group = env.ref("clinic_pbx.clinic_pbx_group_user")
        users = env["res.users"].create(
            [
                {
                    "name": f"Receptionist {ext}",
                    "login": f"committed-{ext}-{suffix}",
                    "pbx_extension": ext,
                    "groups_id": [Command.set(group.ids)],
                }
                for ext in extensions
            ]
        )
        ids = {"connection_id": connection.id, "token": token, "user_ids": users.ids}
    try:
        yield ids
    finally:
        with real_registry().cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            connection = env["pbx.connection"].browse(ids["connection_id"])
            env["pbx.call"].search([("connection_id", "=", connection.id)]).unlink()
            connection.unlink()
            env["res.users"].browse(ids["user_ids"]).unlink()


def run_cron_until_caught_up(case, run, runs=10):
    """Call ``run()`` (a scheduled action's method) as Odoo runs it: again at
    once while it reports work left through ``ir.cron._notify_progress``.
    Returns the ``remaining`` counts it reported, one per run."""
    reported = []
    case.patch(
        type(case.env["ir.cron"]),
        "_notify_progress",
        lambda cron, done, remaining, deactivate=False: reported.append(remaining),
    )
    for _run in range(runs):
        case.env.invalidate_all()  # each run is a transaction of its own
        run()
        if not reported or not reported[-1]:
            break
    return reported


MSK = timezone(timedelta(hours=3))


def msk(day, hour, minute=0):
    """A moment of November 2026 in Moscow (2026-11-02 is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


def clinic_calendar(env, name="Clinic hours"):
    """A working schedule of a clinic open Monday to Friday, 8:00 to 20:00 in
    Moscow."""
    return env["resource.calendar"].create(
        {
            "name": name,
            "tz": "Europe/Moscow",
            "company_id": env.company.id,
            "attendance_ids": [Command.clear()]
            + [
                Command.create(
                    {
                        "name": f"Day {day}",
                        "dayofweek": str(day),
                        "hour_from": 8,
                        "hour_to": 20,
                        "day_period": "morning",
                    }
                )
                for day in range(5)
            ],
        }
    )
