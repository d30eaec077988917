"""Caller-controlled text through a real FastAGI session: never an extra AGI command."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fake_asterisk import Listen, Speak, foreign_apps, place_call
from tests.fuzz.conftest import tried

EXPECTED = {"ANSWER", "STREAM FILE", "GET DATA", "SET VARIABLE", "RECORD FILE", "SAY DATE", "SAY DIGITS",
            "CHANNEL STATUS", "EXEC"}        # EXEC: only the engine's own MSet (foreign_apps)
hostile = st.text(alphabet=st.characters(codec="utf-8"), max_size=120) | st.sampled_from(
    ['x"\nEXEC Dial "PJSIP/evil"', "HANGUP\nHANGUP", "\\\n\\", "${SHELL(rm -rf /)}", "a\rb\x00c",
     "failure", "'; DROP TABLE calls; --", "<Say>hi</Say>&amp;"])


def command_words(result) -> set[str]:
    return {" ".join(c[:2]).upper() if len(c) > 1 and c[0].upper() in ("STREAM", "GET", "SET", "RECORD", "SAY",
                                                                          "CHANNEL") else c[0].upper()
            for c in result.commands}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile, number=hostile, speech=hostile)
def test_hostile_caller_id_and_speech_stay_data(make_engine_once, name, number, speech):
    tried("test_hostile_caller_id_and_speech_stay_data")
    port = make_engine_once.port
    result = place_call(port, Speak(speech.replace("\x00", "")), Listen(), Listen(), calleridname=name,
                        callerid=number)
    assert command_words(result) <= EXPECTED, result.commands
    assert not foreign_apps(result) and result.variables.get("HOTLINE_ACTION") in ("queue", "hangup", "emergency")
    assert not [e for e in result.errors if not e.startswith("511")]
