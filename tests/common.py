import json
import secrets

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
