"""The shipped dialplan's decisions, followed with tests/dialplan_sim.py."""
from __future__ import annotations

import pytest

from tests.dialplan_sim import Channel


class Asterisk:
    """Plays Asterisk's part for the applications the dialplan hands over."""

    def __init__(self, backup=None, queue_status="CONTINUE", dial_status="ANSWER", choice=""):
        self.backup, self.queue_status, self.dial_status, self.choice = backup, queue_status, dial_status, choice

    def __call__(self, chan: Channel, app: str, args: list[str]) -> None:
        if app == "AGI":
            url = args[0]
            if "4574" in url:                       # the second engine node
                if self.backup is None:
                    chan.vars["AGISTATUS"] = "FAILURE"
                else:
                    chan.vars.update(self.backup, AGISTATUS="SUCCESS")
            else:
                chan.vars["AGISTATUS"] = "SUCCESS"
        elif app == "Queue":
            chan.vars["QUEUESTATUS"] = self.queue_status
        elif app == "Dial":
            chan.vars["DIALSTATUS"] = self.dial_status
        elif app == "Read":
            chan.vars[args[0]] = self.choice


def decide(variables, **asterisk):
    chan = Channel(variables, Asterisk(**asterisk))
    return chan.run("hotline-decide", "s"), chan


@pytest.mark.parametrize("agistatus", ["SUCCESS", "HANGUP"])
def test_engine_closed_the_call_without_a_decision_so_the_caller_reaches_the_queue(agistatus):
    """SIGKILL mid-call: Asterisk sees the socket close (AGISTATUS=SUCCESS), no HOTLINE_ACTION."""
    trail, chan = decide({"AGISTATUS": agistatus})
    assert trail[0] == ("Queue", "hotline-cmn,c,,,600")


def test_engine_unreachable_tries_the_second_node_then_the_queue():
    trail, _ = decide({"AGISTATUS": "FAILURE"})
    assert [app for app, _ in trail][:2] == ["AGI", "Queue"]
    assert trail[0][1].startswith("agi://127.0.0.1:4574/hotline")
    trail, _ = decide({"AGISTATUS": "FAILURE"}, backup={"HOTLINE_ACTION": "emergency", "HOTLINE_TARGET": "119"})
    assert ("Dial", "PJSIP/emergency/119,60") in trail


def test_each_engine_decision_is_carried_out():
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "queue", "HOTLINE_TARGET": "hotline-yue",
                       "HOTLINE_CALL_ID": "c1"})
    assert trail[0] == ("Queue", "hotline-yue,c,,,600")
    assert ("AGI", "agi://127.0.0.1:4573/survey,c1") in trail                     # answered: the survey
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "queue", "HOTLINE_TARGET": "hotline-cmn"},
                      queue_status="JOINEMPTY")
    assert any(app == "AGI" and "mode=closed" in args for app, args in trail)       # nobody there: a message
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "hangup"})
    assert trail == [("Hangup", "")]
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "emergency", "HOTLINE_TARGET": "120"})
    assert trail[0] == ("Dial", "PJSIP/emergency/120,60")


def test_a_forged_emergency_target_never_dials_out():
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "emergency", "HOTLINE_TARGET": "110&PJSIP/x"})
    assert not any(app == "Dial" for app, _ in trail) and trail[0][0] == "Queue"


def test_an_unknown_action_reaches_a_person():
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "bogus"})
    assert trail[0][0] == "Queue"


def test_busy_leader_seat_the_caller_waits_a_bounded_time_or_goes_to_the_queue():
    base = {"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "leader", "HOTLINE_TARGET": "PJSIP/leader1",
            "HOTLINE_LANG": "cmn"}
    trail, _ = decide(dict(base), dial_status="BUSY", choice="1")
    dials = [args for app, args in trail if app == "Dial"]
    assert len(dials) == 3 and all(d.startswith("PJSIP/leader1,45") for d in dials)  # 1 try + 2 waits
    assert [app for app, _ in trail][-1] == "Queue" or any(app == "Queue" for app, _ in trail)
    trail, _ = decide(dict(base), dial_status="BUSY", choice="0")
    assert len([1 for app, _ in trail if app == "Dial"]) == 1 and any(app == "Queue" for app, _ in trail)
    trail, chan = decide(dict(base), dial_status="ANSWER")
    assert any(app == "AGI" and "/survey" in args for app, args in trail)


def test_the_engines_closing_prompt_is_played_before_its_decision_is_carried_out():
    """announce=1: HOTLINE_ANNOUNCE (&-joined prompt files) plays, then the transfer, from either node."""
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "queue", "HOTLINE_TARGET": "hotline-cmn",
                       "HOTLINE_ANNOUNCE": "/p/cmn/transfer_agent"})
    assert trail[:2] == [("Playback", "/p/cmn/transfer_agent"), ("Queue", "hotline-cmn,c,,,600")]
    trail, _ = decide({"AGISTATUS": "FAILURE"}, backup={"HOTLINE_ACTION": "hangup",
                                                         "HOTLINE_ANNOUNCE": "/p/cmn/a&/p/cmn/goodbye"})
    assert trail[0][1].endswith("announce=1") and trail[1:] == [("Playback", "/p/cmn/a&/p/cmn/goodbye"),
                                                                 ("Hangup", "")]
    trail, _ = decide({"AGISTATUS": "SUCCESS", "HOTLINE_ACTION": "queue", "HOTLINE_ANNOUNCE": ""})
    assert trail[0][0] == "Queue"                                   # nothing to announce: nothing played
