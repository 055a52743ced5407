from datetime import datetime

from odoo.tests import BaseCase, tagged

from odoo.addons.clinic_pbx.tests.fakes.freepbx_cdr import CdrWriter
from odoo.addons.clinic_pbx.tools.call_events import merge_events
from odoo.addons.clinic_pbx.tools.cdr_fold import Channel, fold_rows, recording_url

T0 = datetime(2026, 11, 5, 9, 17, 30)
BASE = "https://pbx.example/monitor/"


@tagged("post_install", "-at_install")
class TestCdrFold(BaseCase):
    """Folding the rows of one call (plain Python, no database)."""

    def setUp(self):
        super().setUp()
        self.writer = CdrWriter("Europe/Moscow")

    def fold(self, rows, tz="Europe/Moscow"):
        events, problems = fold_rows(rows, tz, BASE)
        self.assertEqual(problems, [])
        self.assertEqual(len(events), 1, "one call's rows give one event")
        return events[0]

    def test_channel_names(self):
        phone = Channel.parse("PJSIP/101-0000002a")
        self.assertEqual((phone.tech, phone.extension), ("PJSIP", "101"))
        self.assertTrue(phone.is_phone)
        trunk = Channel.parse("PJSIP/sipnet-0000002b")
        self.assertTrue(trunk.is_trunk)
        agent = Channel.parse("Local/102@from-queue-0000001f;2")
        self.assertEqual((agent.extension, agent.context), ("102", "from-queue"))
        self.assertTrue(agent.is_local)
        self.assertFalse(agent.is_phone)
        self.assertIsNone(Channel.parse(""))

    def test_ring_group_folds_into_one_answered_call(self):
        event = self.fold(self.writer.ring_group(T0, "89161234567", answered_by="105"))
        self.assertEqual(event["disposition"], "answered")
        self.assertEqual(event["extension"], "105")
        self.assertEqual(event["rang_extensions"], ["101", "102", "103", "104", "105"])
        self.assertEqual((event["talk_seconds"], event["wait_seconds"]), (120, 20))
        self.assertEqual(event["direction"], "incoming")
        self.assertEqual(event["did"], "74951234500")
        # PBX local time (Moscow, UTC+3) converted to UTC
        self.assertEqual(event["time"], datetime(2026, 11, 5, 6, 17, 30))

    def test_queue_talk_is_the_agents_not_the_music(self):
        event = self.fold(self.writer.queue(T0, "89161234567", answered_by="102"))
        self.assertEqual(event["extension"], "102")
        self.assertEqual(event["talk_seconds"], 90)
        # 30 s of music, 15 s ringing 101, 15 s ringing 102
        self.assertEqual(event["wait_seconds"], 60)
        self.assertEqual(event["rang_extensions"], ["101", "102"])

    def test_transfer_sums_the_segments(self):
        event = self.fold(self.writer.transfer(T0, "89161234567"))
        self.assertEqual(event["disposition"], "answered")
        self.assertEqual(event["extension"], "101", "the one who took it")
        self.assertEqual(event["talk_seconds"], 90)
        self.assertEqual(event["rang_extensions"], ["101", "102"])

    def test_outgoing_and_internal(self):
        out = self.fold(self.writer.outgoing(T0, "103", "+7 916 765-43-21"))
        self.assertEqual(
            (out["direction"], out["from"], out["to"], out["extension"]),
            ("outgoing", "103", "+7 916 765-43-21", "103"),
        )
        self.assertEqual(out["talk_seconds"], 75)
        internal = self.fold(self.writer.internal(T0, "101", "104"))
        self.assertEqual(internal["direction"], "internal")
        self.assertEqual(internal["extension"], "101")
        self.assertEqual(internal["rang_extensions"], ["104"])

    def test_unanswered_outcomes(self):
        missed = self.fold(self.writer.ring_group(T0, "89161234567"))
        self.assertEqual(missed["disposition"], "no_answer")
        self.assertEqual(missed["extension"], "101", "the first phone that rang")
        self.assertEqual((missed["talk_seconds"], missed["wait_seconds"]), (0, 20))
        self.assertFalse(missed["recording_url"], "nothing to hear")
        one_busy = self.fold(
            self.writer.ring_group(
                T0, "89161234567", members=("101", "102"), busy=("102",)
            )
        )
        self.assertEqual(one_busy["disposition"], "no_answer")
        all_busy = self.fold(
            self.writer.ring_group(T0, "89161234567", members=("101",), busy=("101",))
        )
        self.assertEqual(all_busy["disposition"], "busy")
        congestion = self.fold(
            self.writer.outgoing(T0, disposition="CONGESTION", ring=0)
        )
        self.assertEqual(congestion["disposition"], "failed")
        voicemail = self.fold(self.writer.voicemail(T0, "89161234567"))
        self.assertEqual(
            (voicemail["direction"], voicemail["disposition"]),
            ("incoming", "no_answer"),
            "the PBX answering for a voicemail box is not the clinic answering",
        )

    def test_recording_url_by_the_freepbx_date_directories(self):
        name = "out-71222-002-20241105-091730-1730780250.107.wav"
        self.assertEqual(
            recording_url(BASE, name),
            BASE + "2024/11/05/" + name,
        )
        self.assertEqual(
            recording_url("https://pbx.example/rec", "q-400-8916-x-y.wav", T0),
            "https://pbx.example/rec/2026/11/05/q-400-8916-x-y.wav",
            "a name without a date falls back to the call's day",
        )
        self.assertEqual(
            recording_url(BASE, "/var/spool/asterisk/monitor/2019/01/02/a b.wav"),
            BASE + "2019/01/02/a%20b.wav",
        )
        self.assertIsNone(recording_url(None, name))
        event = self.fold(self.writer.ring_group(T0, "89161234567", answered_by="102"))
        self.assertRegex(
            event["recording_url"],
            r"^https://pbx\.example/monitor/2026/11/05/rg-600-89161234567-"
            r"20261105-091730-\d+\.\d+\.wav$",
        )

    def test_time_zone_with_daylight_saving(self):
        writer = CdrWriter("Europe/Berlin")
        summer = self.fold(
            writer.internal(datetime(2026, 7, 1, 12, 0, 0)), tz="Europe/Berlin"
        )
        winter = self.fold(
            writer.internal(datetime(2026, 1, 1, 12, 0, 0)), tz="Europe/Berlin"
        )
        self.assertEqual(summer["time"], datetime(2026, 7, 1, 10, 0, 0))
        self.assertEqual(winter["time"], datetime(2026, 1, 1, 11, 0, 0))

    def test_malformed_rows_are_named_and_left_out(self):
        rows = self.writer.ring_group(T0, "89161234567", answered_by="103")
        rows[0]["calldate"] = "0000-00-00 00:00:00"
        bad_uid = rows[0]["uniqueid"]
        rows.append(dict(rows[1], linkedid="", uniqueid="1793859450.999"))
        rows.append(dict(rows[1], uniqueid=""))
        rows.append(
            dict(rows[1], uniqueid="1793859450.998", calldate=datetime(1000, 1, 1))
        )
        events, problems = fold_rows(rows, "Europe/Moscow", BASE)
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["extension"], "103")
        self.assertEqual(len(problems), 4)
        self.assertIn(
            bad_uid + ": calldate '0000-00-00 00:00:00' is not a date", problems
        )
        self.assertIn("1793859450.999: no linkedid", problems)
        self.assertIn(
            "1793859450.998: calldate '1000-01-01 00:00:00' is not a date", problems
        )
        self.assertTrue(any("without uniqueid" in p for p in problems))

    def test_odd_caller_ids_keep_their_call(self):
        """A caller ID that is not a plain number still gives its call, with
        what the Event API accepts as the number."""
        for src, expected in (
            ("John <8 916 123-45-67>", "89161234567"),
            ("sip:100@pbx.example", "100"),
            ("=HYPERLINK(1)", "1"),
            ("Anonymous", "Anonymous"),
            ("<unknown>", "unknown"),
            ("\"'", "anonymous"),
        ):
            with self.subTest(src=src):
                rows = self.writer.ring_group(T0, src, answered_by="103")
                events, problems = fold_rows(rows, "Europe/Moscow", BASE)
                self.assertEqual(problems, [])
                self.assertEqual(len(events), 1)
                self.assertEqual(events[0]["from"], expected)

    def test_a_fuller_reading_of_a_call_wins_in_any_order(self):
        rows = self.writer.ring_group(T0, "89161234567", answered_by="105")
        partial = self.fold([row for row in rows if row["dstchannel"][6:9] != "105"])
        full = self.fold(rows)
        self.assertEqual(partial["disposition"], "no_answer")
        self.assertGreater(full["revision"], partial["revision"])
        for order in ([partial, full], [full, partial]):
            state = merge_events({}, order)
            self.assertEqual(state["disposition"], "answered")
            self.assertEqual(state["answered_extension"], "105")
            self.assertEqual(state["extension"], "105")
            self.assertEqual(len(state["rang_extensions"]), 5)
