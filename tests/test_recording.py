import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import BaseCase, HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.clinic_pbx.tools import recording_fetch
from odoo.addons.clinic_pbx.tools.call_events import validate_event

from .common import cdr_event, make_connection, make_pbx_users
from .fakes.recording_server import RecordingServer, make_wav

WAV = make_wav()
PATH = "/2026/11/05/in-101-79161234567-20261105-091730-1762323450.7.wav"
PAGE = "/2026/11/05/page.wav"
UNTYPED = "/2026/11/05/untyped.wav"
MOVED = "/2026/11/05/moved.wav"
SCRIPT = b"<html><script>stealTheSession()</script></html>"
MUTE = "odoo.addons.clinic_pbx.models.pbx_call_recording"
INERT = "default-src 'none'; sandbox"


@tagged("post_install", "-at_install")
class TestRecording(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.enterClassContext(
            RecordingServer(
                {PATH: WAV, PAGE: SCRIPT, UNTYPED: WAV},
                username="monitor",
                password="s3cret",
                types={PAGE: "text/html", UNTYPED: None},
            )
        )
        cls.connection, _token = make_connection(
            cls.env,
            recordings_base_url=cls.pbx.url,
            recordings_username="monitor",
            recordings_password="s3cret",
        )
        cls.users = make_pbx_users(cls.env, prefix="rec")
        cls.users["listener"].pbx_extension = "301"
        cls.users["user"].pbx_extension = "301"
        cls.users["manager"].groups_id |= cls.env.ref(
            "clinic_pbx.clinic_pbx_group_recordings"
        )
        Call = cls.env["pbx.call"]
        url = cls.pbx.url + PATH
        raw = [
            cdr_event(
                "rec-1", "2026-11-05T09:17:30+03:00", extension="301", recording_url=url
            ),
            cdr_event(
                "rec-2", "2026-11-05T10:00:00+03:00", extension="999", recording_url=url
            ),
            cdr_event("rec-3", "2026-11-05T11:00:00+03:00", extension="301"),
        ]
        events = [validate_event(i, event) for i, event in enumerate(raw)]
        Call._ingest_events(cls.connection, events)
        calls = Call.search([("connection_id", "=", cls.connection.id)])
        cls.mine = calls.filtered(lambda c: c.external_id == "rec-1")
        cls.others = calls.filtered(lambda c: c.external_id == "rec-2")
        cls.silent = calls.filtered(lambda c: c.external_id == "rec-3")

    def get(self, call, headers=None):
        return self.url_open(
            f"/pbx/recording/{call.id}", headers=headers or {}, timeout=30
        )

    def listens(self, call):
        return self.env["pbx.recording.listen"].search([("call_id", "=", call.id)])

    def stored_call(self, call_id, url):
        """A call of extension 301 whose stored recording URL is ``url``,
        whatever its shape (a call stored before the event API checked it)."""
        raw = cdr_event(call_id, "2026-11-05T12:00:00+03:00", extension="301",
                        recording_url=self.pbx.url + PATH)  # fmt: skip
        event = validate_event(0, raw)
        event["recording_url"] = url
        return self.env["pbx.call"]._ingest_events(self.connection, [event])[2]

    def test_listener_plays_the_recording_through_odoo(self):
        self.authenticate("rec_listener", "rec_listener")
        response = self.get(self.mine)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        self.assertEqual(response.headers["Content-Type"], "audio/wav")
        self.assertNotIn(self.pbx.url, response.text[:200])
        path, _range, auth = self.pbx.requests[-1]
        self.assertEqual(path, PATH)
        self.assertTrue(
            auth.startswith("Basic "), "PBX credentials come from the server"
        )
        listen = self.listens(self.mine)
        self.assertEqual(listen.user_id, self.users["listener"])

    @mute_logger(MUTE)
    def test_credentials_go_only_to_the_recordings_server(self):
        # The event API takes a recording URL from whoever holds the PBX's
        # token: a URL that is not under the Recordings URL is not fetched
        # at all, however it is dressed up, so neither the PBX password nor
        # the answer of another server reach anyone.
        with RecordingServer({PATH: b"secret"}, types={PATH: "text/plain"}) as other:
            self.pbx.redirects[MOVED] = other.url + PATH
            self.addCleanup(self.pbx.redirects.clear)
            pbx_port = self.pbx.port
            other_port = other.port
            urls = {
                "another server": other.url + PATH,
                "parsed two ways": f"http://127.0.0.1:{other_port}\\@127.0.0.1:"
                f"{pbx_port}{PATH}",
                "user info": f"http://monitor@127.0.0.1:{other_port}{PATH}",
                "redirected by the PBX": self.pbx.url + MOVED,
                "out of the directory": self.pbx.url + "/2026/../../secret",
            }
            self.authenticate("rec_listener", "rec_listener")
            statuses = {
                case: self.get(self.stored_call(f"rec-out-{index}", url)).status_code
                for index, (case, url) in enumerate(urls.items())
            }
            self.assertEqual(other.requests, [], "nothing reached the other server")
        self.assertEqual(set(statuses.values()), {404}, statuses)

    def test_the_browser_gets_an_inert_audio_file(self):
        self.authenticate("rec_listener", "rec_listener")
        response = self.get(self.mine)
        self.assertEqual(response.headers["Content-Type"], "audio/wav")
        self.assertEqual(response.headers["Content-Security-Policy"], INERT)
        self.assertEqual(response.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(
            response.headers["Content-Disposition"],
            f'inline; filename="call-{self.mine.id}.wav"',
        )

    @mute_logger(MUTE)
    def test_a_page_is_never_served_as_a_recording(self):
        # A recordings server that answers HTML (hostile, or a login or
        # error page) must not get a script to run in Odoo's origin.
        self.authenticate("rec_listener", "rec_listener")
        call = self.stored_call("rec-page", self.pbx.url + PAGE)
        response = self.get(call)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn(b"stealTheSession", response.content)
        self.assertFalse(self.listens(call))

    def test_an_untyped_file_is_passed_on_as_opaque_bytes(self):
        self.authenticate("rec_listener", "rec_listener")
        call = self.stored_call("rec-untyped", self.pbx.url + UNTYPED)
        response = self.get(call)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        self.assertEqual(response.headers["Content-Type"], "application/octet-stream")
        self.assertEqual(response.headers["Content-Security-Policy"], INERT)
        self.assertEqual(
            response.headers["Content-Disposition"],
            f'inline; filename="call-{call.id}.bin"',
        )

    @mute_logger(MUTE)
    def test_an_oversized_recording_is_not_streamed(self):
        self.patch(recording_fetch, "MAX_BYTES", len(WAV) - 1)
        self.authenticate("rec_listener", "rec_listener")
        self.assertEqual(self.get(self.mine).status_code, 404)
        self.assertFalse(self.listens(self.mine))

    def test_only_an_administrator_sets_the_recordings_url(self):
        # Recordings under it are fetched wherever it points, the clinic's
        # network included; a manager could aim it at Odoo's own host.
        Connection = self.env["pbx.connection"].with_user(self.users["manager"])
        with self.assertRaises(AccessError):
            Connection.create(
                {"name": "Metadata", "recordings_base_url": "http://169.254.169.254/"}
            )
        own = Connection.create({"name": "Manager's PBX"})
        with self.assertRaises(AccessError):
            own.write({"recordings_base_url": "http://127.0.0.1:8069/web/"})
        own.write({"name": "Reception PBX"})  # other settings stay theirs
        self.assertFalse(own.recordings_base_url)
        with self.assertRaises(ValidationError):
            self.connection.recordings_base_url = "http://evil\\@pbx.example/monitor/"

    def test_range_requests_let_the_player_seek(self):
        self.authenticate("rec_listener", "rec_listener")
        response = self.get(self.mine, {"Range": "bytes=100-199"})
        self.assertEqual(response.status_code, 206)
        self.assertEqual(response.content, WAV[100:200])
        self.assertEqual(response.headers["Content-Range"], f"bytes 100-199/{len(WAV)}")
        self.assertFalse(self.listens(self.mine), "seeking is not a new listen")
        self.get(self.mine, {"Range": "bytes=0-"})
        self.assertEqual(len(self.listens(self.mine)), 1)

    def test_every_way_of_asking_for_the_whole_file_is_a_listen(self):
        # The audit cannot be dodged by spelling the start differently or by
        # asking for the end of the file.
        self.authenticate("rec_listener", "rec_listener")
        for spelling, expected in (
            ("bytes=00-", WAV),
            ("bytes=-100000", WAV),
            ("bytes=-100", WAV[-100:]),
            ("bytes=0-99", WAV[:100]),
            ("bytes=5-1", WAV),  # not a range: the whole file
        ):
            with self.subTest(spelling=spelling):
                before = len(self.listens(self.mine))
                response = self.get(self.mine, {"Range": spelling})
                self.assertEqual(response.content, expected)
                self.assertEqual(len(self.listens(self.mine)), before + 1)

    @mute_logger("odoo.http")
    def test_without_the_recordings_group_it_is_403(self):
        self.authenticate("rec_user", "rec_user")
        seen = len(self.pbx.requests)
        self.assertEqual(self.get(self.mine).status_code, 403)
        self.assertEqual(len(self.pbx.requests), seen, "the PBX was not asked")
        self.assertFalse(self.listens(self.mine))

    @mute_logger("odoo.http")
    def test_a_call_the_user_cannot_see_is_403(self):
        self.authenticate("rec_listener", "rec_listener")
        self.assertEqual(self.get(self.others).status_code, 403)

    def test_a_call_without_recording_is_404(self):
        self.authenticate("rec_listener", "rec_listener")
        self.assertEqual(self.get(self.silent).status_code, 404)

    def test_managers_see_who_listened(self):
        self.authenticate("rec_listener", "rec_listener")
        self.get(self.mine)
        manager_view = self.mine.with_user(self.users["manager"])
        self.assertEqual(manager_view.listen_ids.user_id, self.users["listener"])

    def test_the_browser_never_gets_the_pbx_url(self):
        for user in self.users.values():
            fields = self.env["pbx.call"].with_user(user).fields_get()
            self.assertNotIn("recording_url", fields)
        listener_list = (
            self.env["pbx.call"]
            .with_user(self.users["listener"])
            .get_views([(False, "list")])
        )
        plain_list = (
            self.env["pbx.call"]
            .with_user(self.users["user"])
            .get_views([(False, "list")])
        )
        self.assertIn('name="has_recording"', listener_list["views"]["list"]["arch"])
        self.assertNotIn('name="has_recording"', plain_list["views"]["list"]["arch"])


@tagged("post_install", "-at_install")
class TestRecordingWithoutRecordingsUrl(HttpCase):
    """A connection without a Recordings URL: recordings on public addresses
    only, so a recording URL cannot reach into Odoo's own network."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.enterClassContext(
            RecordingServer(
                {PATH: WAV, UNTYPED: WAV, "/latest/meta-data/": b"role-credentials"},
                types={UNTYPED: None, "/latest/meta-data/": "text/plain"},
            )
        )
        cls.port = cls.server.port
        cls.connection, _token = make_connection(
            cls.env,
            name="Cloud PBX",
            recordings_username="monitor",
            recordings_password="s3cret",
        )
        users = make_pbx_users(cls.env, prefix="pub")
        users["listener"].pbx_extension = "301"
        cls.lookups = []

    def call_with(self, call_id, url):
        raw = cdr_event(call_id, "2026-11-05T12:00:00+03:00", extension="301",
                        recording_url=url)  # fmt: skip
        event = validate_event(0, raw)
        return self.env["pbx.call"]._ingest_events(self.connection, [event])[2]

    def get(self, call):
        self.authenticate("pub_listener", "pub_listener")
        return self.url_open(f"/pbx/recording/{call.id}", timeout=30)

    def resolve_to(self, *addresses):
        """Resolve every name to ``addresses``, and count the lookups."""

        def getaddrinfo(host, port, *args, **kwargs):
            self.lookups.append(host)
            return [(2, 1, 6, "", (address, port)) for address in addresses]

        self.lookups.clear()
        self.patch(recording_fetch, "getaddrinfo", getaddrinfo)

    def treat_loopback_as_public(self):
        # The test's server stands for a public recordings server.
        self.patch(recording_fetch, "is_public", lambda address: address == "127.0.0.1")

    @mute_logger(MUTE)
    def test_internal_addresses_are_not_fetched(self):
        seen = len(self.server.requests)
        for index, url in enumerate(
            (
                f"{self.server.url}{PATH}",
                f"http://localhost:{self.port}{PATH}",
                f"http://[::ffff:127.0.0.1]:{self.port}{PATH}",
                f"http://2130706433:{self.port}{PATH}",
                "http://169.254.169.254/latest/meta-data/",
            )
        ):
            with self.subTest(url=url):
                self.assertEqual(
                    self.get(self.call_with(f"int-{index}", url)).status_code, 404
                )
        self.assertEqual(self.server.requests[seen:], [], "nothing was requested")

    def test_a_public_host_is_fetched_at_the_address_that_was_checked(self):
        self.treat_loopback_as_public()
        self.resolve_to("127.0.0.1")
        call = self.call_with("pub-1", f"http://recordings.example:{self.port}{PATH}")
        response = self.get(call)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, WAV)
        # One lookup, and the connection went to its answer: DNS cannot name
        # another address between the check and the request.
        self.assertEqual(self.lookups, ["recordings.example"])
        self.assertEqual(self.server.hosts[-1], f"recordings.example:{self.port}")
        self.assertIsNone(self.server.requests[-1][2], "no PBX password to it")

    @mute_logger(MUTE)
    def test_a_name_that_also_points_inside_is_refused(self):
        self.treat_loopback_as_public()
        self.resolve_to("127.0.0.1", "10.0.0.7")
        seen = len(self.server.requests)
        call = self.call_with("pub-2", f"http://recordings.example:{self.port}{PATH}")
        self.assertEqual(self.get(call).status_code, 404)
        self.assertEqual(self.server.requests[seen:], [])

    @mute_logger(MUTE)
    def test_a_public_answer_must_be_audio(self):
        self.treat_loopback_as_public()
        self.resolve_to("127.0.0.1")
        for index, path in enumerate((UNTYPED, "/latest/meta-data/")):
            url = f"http://recordings.example:{self.port}{path}"
            response = self.get(self.call_with(f"pub-type-{index}", url))
            self.assertEqual(response.status_code, 404, path)
            self.assertNotIn(b"role-credentials", response.content)


class TestRecordingFetch(BaseCase):
    """The address and time rules of tools/recording_fetch.py."""

    def test_only_public_addresses_are_public(self):
        inside = [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.10", "0.0.0.0",
            "169.254.169.254", "100.64.0.1", "100.100.100.200", "224.0.0.1",
            "240.0.0.1", "::1", "fe80::1%eth0", "fd00:ec2::254", "::ffff:10.0.0.1",
            "::",
        ]  # fmt: skip
        for address in inside:
            self.assertFalse(recording_fetch.is_public(address), address)
        for address in ("8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"):
            self.assertTrue(recording_fetch.is_public(address), address)
        # Literal addresses need no lookup and follow the same rule.
        self.assertEqual(
            recording_fetch.resolve_public("2606:4700:4700::1111", 443),
            "2606:4700:4700::1111",
        )
        with self.assertRaises(recording_fetch.RecordingRefused):
            recording_fetch.resolve_public("127.0.0.1", 80)

    def test_under_the_recordings_url(self):
        base = "https://pbx.example/monitor/"
        under = recording_fetch.is_under
        self.assertTrue(under("https://pbx.example/monitor/2026/11/05/a.wav", base))
        self.assertTrue(under("https://PBX.example:443/monitor/a%20b.wav", base))
        self.assertTrue(under("https://pbx.example/monitor/a.wav", base[:-1]))
        for url in (
            "https://pbx.example/monitorx/a.wav",
            "http://pbx.example/monitor/a.wav",
            "https://pbx.example:8443/monitor/a.wav",
            "https://pbx.example/monitor/../admin/config.php",
            "https://pbx.example/monitor/%2e%2e/admin/config.php",
            "https://evil.example\\@pbx.example/monitor/a.wav",
            "https://u:p@pbx.example/monitor/a.wav",
            "https://pbx.example.evil.example/monitor/a.wav",
        ):
            self.assertFalse(under(url, base), url)

    def test_a_dripping_server_is_cut_off(self):
        class Drip(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server API)
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.end_headers()
                with contextlib.suppress(OSError):  # Odoo hung up: expected
                    for _i in range(600):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.05)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        base = "http://127.0.0.1:%d/" % server.server_address[1]
        self.patch(recording_fetch, "MAX_SECONDS", 1)
        started = time.monotonic()
        audio = recording_fetch.open_audio(base + "a.wav", base_url=base, timeout=10)
        received = b"".join(_chunks_until_broken(audio))
        self.assertLess(time.monotonic() - started, 8, "cut off near the deadline")
        self.assertLess(len(received), 600)


def _chunks_until_broken(audio):
    try:
        yield from audio.chunks()
    except requests.RequestException:
        return
