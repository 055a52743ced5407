"""AMI call events as Asterisk 16+ (FreePBX 16) sends them for typical calls.

Plain Python, used by the AMI tests. ``AmiStream`` writes the events of the
same calls ``CdrWriter`` writes the CDR rows of (ring group, queue with
``Local/`` agent legs, a blind transfer, outgoing through a trunk,
internal), for the call's
``linkedid``, with the fields of Asterisk's documented event formats
(Newchannel, DialBegin, DialEnd, Hangup) and the ``Timestamp`` that
``timestampevents = yes`` in manager.conf adds. ``as_bytes`` gives them as
they travel on the wire.
"""

import itertools
from datetime import timedelta

import pytz

from .freepbx_cdr import DID, TRUNK


class AmiStream:
    def __init__(self, tz_name="Europe/Moscow"):
        self.tz = pytz.timezone(tz_name)
        self._channel = itertools.count(0x100)
        self._unique = itertools.count(500)

    def stamp(self, local):
        return "%.6f" % self.tz.localize(local, is_dst=True).timestamp()

    def uniqueid(self, local):
        return "%d.%d" % (int(float(self.stamp(local))), next(self._unique))

    def channel(self, name):
        return "PJSIP/%s-%08x" % (name, next(self._channel))

    def local(self, exten, context):
        base = "Local/%s@%s-%08x" % (exten, context, next(self._channel))
        return base + ";1", base + ";2"

    # -- events -------------------------------------------------------------

    @staticmethod
    def _channel_fields(channel, uniqueid, linkedid, number, exten, context, state):
        return {
            "Channel": channel,
            "ChannelState": {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6"}[
                state
            ],
            "ChannelStateDesc": state,
            "CallerIDNum": number,
            "CallerIDName": number,
            "ConnectedLineNum": "<unknown>",
            "ConnectedLineName": "<unknown>",
            "Language": "en",
            "AccountCode": "",
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Uniqueid": uniqueid,
            "Linkedid": linkedid,
        }

    def newchannel(self, at, channel, uniqueid, linkedid, number, exten, context):
        return {
            "Event": "Newchannel",
            "Privilege": "call,all",
            "Timestamp": self.stamp(at),
            **self._channel_fields(
                channel, uniqueid, linkedid, number, exten, context, "Down"
            ),
        }

    def _dial(self, name, at, caller, dest, dialstring, extra=None):
        event = {
            "Event": name,
            "Privilege": "call,all",
            "Timestamp": self.stamp(at),
            **self._channel_fields(*caller, "Ring"),
        }
        channel, uniqueid, linkedid, number, exten, context = dest
        for key, value in self._channel_fields(
            channel, uniqueid, linkedid, number, exten, context, "Ringing"
        ).items():
            event["Dest" + key] = value
        event["DialString"] = dialstring
        event.update(extra or {})
        return event

    def dialbegin(self, at, caller, dest, dialstring):
        return self._dial("DialBegin", at, caller, dest, dialstring)

    def dialend(self, at, caller, dest, status):
        return self._dial("DialEnd", at, caller, dest, "", {"DialStatus": status})

    def hangup(self, at, leg, cause="16", text="Normal Clearing"):
        channel, uniqueid, linkedid, number, exten, context = leg
        return {
            "Event": "Hangup",
            "Privilege": "call,all",
            "Timestamp": self.stamp(at),
            **self._channel_fields(
                channel, uniqueid, linkedid, number, exten, context, "Up"
            ),
            "Cause": cause,
            "Cause-txt": text,
        }

    def leg(self, at, linkedid, channel, number, exten, context, first=False):
        """A channel of the call and its Newchannel event."""
        uniqueid = linkedid if first else self.uniqueid(at)
        leg = (channel, uniqueid, linkedid, number, exten, context)
        return leg, self.newchannel(at, *leg)

    # -- calls --------------------------------------------------------------

    def ring_group(
        self,
        start,
        linkedid,
        caller,
        members=("101", "102", "103", "104", "105"),
        answered_by=None,
        ring=20,
        talk=120,
        did=DID,
        busy=(),
    ):
        """An incoming call ringing every member of a ring group at once."""
        trunk, events = self.leg(
            start, linkedid, self.channel(TRUNK), caller, did, "from-pstn", True
        )
        events = [events]
        phones = []
        for member in members:
            phone, new = self.leg(
                start, linkedid, self.channel(member), member, member, "from-internal"
            )
            events.append(new)
            events.append(
                self.dialbegin(start, trunk, phone, "%s/%s" % ("PJSIP", member))
            )
            phones.append((member, phone))
        answer = start + timedelta(seconds=ring)
        end = answer + timedelta(seconds=talk if answered_by else 0)
        for member, phone in phones:
            if member in busy:
                at, status = start + timedelta(seconds=1), "BUSY"
            elif member == answered_by:
                at, status = answer, "ANSWER"
            else:
                at, status = answer, "CANCEL" if answered_by else "NOANSWER"
            events.append(self.dialend(at, trunk, phone, status))
        for member, phone in phones:
            if member in busy:
                at = start + timedelta(seconds=1)
            elif member == answered_by:
                at = end
            else:
                at = answer
            events.append(self.hangup(at, phone))
        events.append(self.hangup(end, trunk))
        return sorted(events, key=lambda event: float(event["Timestamp"]))

    def queue(
        self,
        start,
        linkedid,
        caller,
        agents=("101", "102"),
        answered_by="102",
        hold=30,
        ring=15,
        talk=90,
        did=DID,
    ):
        """An incoming call in a queue whose agents ring in turn through
        Local channels."""
        trunk, new = self.leg(
            start, linkedid, self.channel(TRUNK), caller, did, "from-pstn", True
        )
        events = [new]
        at = start + timedelta(seconds=hold)
        for agent in agents:
            name1, name2 = self.local(agent, "from-queue")
            local1, new1 = self.leg(at, linkedid, name1, caller, agent, "from-queue")
            local2, new2 = self.leg(at, linkedid, name2, caller, agent, "from-queue")
            phone, new3 = self.leg(
                at, linkedid, self.channel(agent), agent, agent, "from-internal"
            )
            events += [new1, new2]
            events.append(self.dialbegin(at, trunk, local1, "Local/%s" % agent))
            events.append(new3)
            events.append(self.dialbegin(at, local2, phone, "PJSIP/%s" % agent))
            answered = agent == answered_by
            done = at + timedelta(seconds=ring)
            status = "ANSWER" if answered else "NOANSWER"
            events.append(self.dialend(done, local2, phone, status))
            events.append(self.dialend(done, trunk, local1, status))
            if answered:
                end = done + timedelta(seconds=talk)
                for leg in (phone, local2, local1, trunk):
                    events.append(self.hangup(end, leg))
                break
            for leg in (phone, local2, local1):
                events.append(self.hangup(done, leg))
            at = done
        else:
            events.append(self.hangup(at, trunk))
        return sorted(events, key=lambda event: float(event["Timestamp"]))

    def transfer(
        self, start, linkedid, caller, first="101", second="102", ring=8, talk1=30,
        talk2=60,
    ):  # fmt: skip
        """An incoming call answered by ``first``, who blind-transfers it to
        ``second``: Asterisk sends the caller's channel on to dial the
        second phone (after a BlindTransfer event) and the first hangs up."""
        trunk, new = self.leg(
            start, linkedid, self.channel(TRUNK), caller, DID, "from-pstn", True
        )
        phone1, new1 = self.leg(
            start, linkedid, self.channel(first), first, first, "from-internal"
        )
        answer1 = start + timedelta(seconds=ring)
        moved = answer1 + timedelta(seconds=talk1)
        phone2, new2 = self.leg(
            moved, linkedid, self.channel(second), second, second, "from-internal"
        )
        answer2 = moved + timedelta(seconds=5)
        end = answer2 + timedelta(seconds=talk2)
        transfer = {
            "Event": "BlindTransfer",
            "Privilege": "call,all",
            "Timestamp": self.stamp(moved),
            "Result": "Success",
            "Extension": second,
            "Context": "from-internal-xfer",
        }
        return [
            new,
            new1,
            self.dialbegin(start, trunk, phone1, "PJSIP/%s" % first),
            self.dialend(answer1, trunk, phone1, "ANSWER"),
            transfer,
            self.hangup(moved, phone1),
            new2,
            self.dialbegin(moved, trunk, phone2, "PJSIP/%s" % second),
            self.dialend(answer2, trunk, phone2, "ANSWER"),
            self.hangup(end, phone2),
            self.hangup(end, trunk),
        ]

    def outgoing(
        self, start, linkedid, extension="101", number="89161234567", ring=12, talk=75
    ):
        """An extension calling out through the trunk (unanswered: talk 0)."""
        phone, new = self.leg(
            start,
            linkedid,
            self.channel(extension),
            extension,
            number,
            "from-internal",
            True,
        )
        trunk, new2 = self.leg(
            start, linkedid, self.channel(TRUNK), DID, number, "from-internal"
        )
        events = [new, new2]
        events.append(
            self.dialbegin(start, phone, trunk, "PJSIP/%s@%s" % (number, TRUNK))
        )
        answer = start + timedelta(seconds=ring)
        events.append(self.dialend(answer, phone, trunk, "ANSWER" if talk else "BUSY"))
        end = answer + timedelta(seconds=talk)
        events += [self.hangup(end, trunk), self.hangup(end, phone)]
        return events

    def internal(self, start, linkedid, caller="101", callee="102", ring=5, talk=40):
        """One extension calling another (unanswered: talk 0)."""
        phone, new = self.leg(
            start, linkedid, self.channel(caller), caller, callee, "from-internal", True
        )
        other, new2 = self.leg(
            start, linkedid, self.channel(callee), callee, callee, "from-internal"
        )
        answer = start + timedelta(seconds=ring)
        end = answer + timedelta(seconds=talk)
        return [
            new,
            new2,
            self.dialbegin(start, phone, other, "PJSIP/%s" % callee),
            self.dialend(answer, phone, other, "ANSWER" if talk else "NOANSWER"),
            self.hangup(end, other),
            self.hangup(end, phone),
        ]


def as_bytes(events, banner="Asterisk Call Manager/5.0.1"):
    """The events as an AMI server sends them, after its banner."""
    out = [banner + "\r\n"]
    for event in events:
        out.append("".join("%s: %s\r\n" % item for item in event.items()) + "\r\n")
    return "".join(out).encode()
