"""The shipped dialplan and the engine agree on routes and channel variables."""
from __future__ import annotations

import re
from pathlib import Path

from ivr import variables as V

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplans" / "extensions_hotline.conf"


def contexts(text: str) -> dict[str, list[str]]:
    result, current = {}, None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            current = m.group(1)
            result[current] = []
        elif current:
            result[current].append(line)
    return result


def test_every_agi_route_in_the_dialplan_exists_in_the_engine():
    text = DIALPLAN.read_text()
    routes = set(re.findall(r"AGI\(\$\{HOTLINE_AGI(?:_BACKUP)?\}/([a-z]+)", text))
    assert routes == {"hotline", "survey", "monitoring", "outcome"}
    assert routes <= set(V.ROUTES)


def test_every_hotline_variable_is_set_by_the_engine_or_a_global():
    ctx = contexts(DIALPLAN.read_text())
    globals_ = {line.split("=", 1)[0].strip() for line in ctx["globals"]}
    used = set(re.findall(r"\$\{(HOTLINE_[A-Z_]+)\}", DIALPLAN.read_text()))
    assigned = set(re.findall(r"Set\((HOTLINE_[A-Z_]+)=", DIALPLAN.read_text()))
    unknown = used - set(V.SET_BY_ENGINE) - globals_ - assigned
    assert not unknown, f"dialplan reads variables nobody sets: {unknown}"
    for name in (V.CALL_ID, V.ACTION, V.TARGET, V.LANG, V.STATUS):
        assert name in used, f"the dialplan ignores {name}"


def test_every_hand_off_action_has_an_extension():
    from flow.actions import HANDOFF_ACTIONS

    dispatch = contexts(DIALPLAN.read_text())["hotline-dispatch"]
    extens = {m.group(1) for line in dispatch if (m := re.match(r"exten\s*=>\s*([^,]+),", line))}
    assert set(HANDOFF_ACTIONS) <= extens
    assert "i" in extens      # an unknown action still reaches a person


def test_fallback_to_the_queue_when_the_engine_gave_no_decision():
    decide = "\n".join(contexts(DIALPLAN.read_text())["hotline-decide"])
    assert "AGISTATUS" in decide and "hotline-dispatch,queue,1" in decide


def test_queue_names_match_the_configuration_example():
    from core.config import load_settings

    settings = load_settings(Path(__file__).resolve().parents[2] / "asterisk.conf.example", env={})
    queues_conf = (DIALPLAN.parent / "queues_hotline.conf").read_text()
    for name in settings.queues.values():
        assert f"[{name}]" in queues_conf
    default = re.search(r"HOTLINE_DEFAULT_QUEUE=(\S+)", DIALPLAN.read_text()).group(1)
    assert default == settings.queue_for(settings.default_language)


def test_answered_is_claimed_only_after_answer():
    """``answered=1`` makes the engine skip ANSWER: every inbound extension that claims it must
    have run Answer() before its AGI(); the other claims are reached only after a conversation
    or a call already answered (message after the queue)."""
    inbound = contexts(DIALPLAN.read_text())["hotline-inbound"]
    extension, answered, claims = None, False, 0
    for line in inbound:
        if m := re.match(r"exten\s*=>\s*([^,]+),", line):
            extension, answered = m.group(1), False
        if "Answer()" in line:
            answered = True
        if "AGI(" in line and "answered=1" in line:
            claims += 1
            assert answered, f"extension {extension}: answered=1 before Answer()"
    assert claims >= 2
    text = DIALPLAN.read_text()
    assert "answered=1" in re.search(r"exten => message,1,AGI\(([^)]*)\)", text).group(1)


def test_announce_is_claimed_only_where_hotline_decide_plays_it():
    """``announce=1`` makes the engine leave its closing prompt to the dialplan: every AGI line
    that claims it must go on to [hotline-decide], whose ``announce`` label plays HOTLINE_ANNOUNCE
    before any transfer; AGI lines that end otherwise (message, survey) must not claim it."""
    parsed = contexts(DIALPLAN.read_text())
    claims = 0
    for name, lines in parsed.items():
        for i, line in enumerate(lines):
            if "AGI(" not in line or "/hotline" not in line:
                continue
            rest = "\n".join(lines[i + 1:i + 2])
            goes_to_decide = "Goto(hotline-decide,s,1)" in rest or (name == "hotline-decide" and "?announce)" in rest)
            if "announce=1" in line:
                claims += 1
                assert goes_to_decide, f"[{name}] {line.strip()}: announce=1 but HOTLINE_ANNOUNCE is never played"
            else:
                assert not goes_to_decide, f"[{name}] {line.strip()}: the engine streams a prompt it could hand over"
    assert claims >= 3
    decide = "\n".join(parsed["hotline-decide"])
    played = decide.index("Playback(${HOTLINE_ANNOUNCE})")
    assert decide.index("(announce)") < played < decide.index("Goto(hotline-dispatch,${HOTLINE_ACTION},1)")
