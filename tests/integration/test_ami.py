"""The AMI client (routing/ami.py, pyst2's Manager wrapped) against a fake manager over real TCP:
lists collected until EventList: Complete, reconnect after a drop, bounded waits on a stalled or
silent manager, a refused login, and the pyst2 quirks the wrapper fixes."""
from __future__ import annotations

import socket
import threading
import time
import warnings

import pytest

from routing.ami import AmiAuthError, AmiClient, AmiError, AmiTimeout, AmiUnavailable
from routing.state import QueueState, QueueStates
from tests.fake_ami import FakeAMI

TIMEOUT = 0.8


@pytest.fixture
def ami():
    server = FakeAMI(username="hotline", secret="s3cret")
    server.add_queue("hotline-cmn", members=3, available=1, callers=2, holdtime=40, talktime=180, longest_wait=95)
    server.add_queue("hotline-yue", members=1, available=0, callers=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(ami):
    c = AmiClient("127.0.0.1", ami.port, "hotline", "s3cret", timeout=TIMEOUT, backoff_initial=0.3)
    yield c
    c.close()


def test_queue_summary_is_collected_until_the_list_completes(ami, client):
    summary = client.queue_summary()
    assert set(summary) == {"hotline-cmn", "hotline-yue"}
    cmn = summary["hotline-cmn"]
    assert (cmn["LoggedIn"], cmn["Available"], cmn["Callers"], cmn["HoldTime"], cmn["TalkTime"]) == (3, 1, 2, 40, 180)
    assert 95 <= cmn["LongestHoldTime"] <= 97
    assert set(client.queue_summary("hotline-yue")) == {"hotline-yue"}
    [login] = ami.actions_named("Login")
    assert login["Username"] == "hotline" and ami.logins == 1 and ami.connections == 1
    # every action carried its own ActionID, and the list events were matched by it
    ids = [a["ActionID"] for a in ami.actions]
    assert len(ids) == len(set(ids))


def test_queue_status_events_are_delivered(ami, client):
    # pyst2's own reader glues QueueStatus ("Queue status will follow") into one message
    status = client.queue_status()
    cmn = status["hotline-cmn"]
    assert cmn["params"]["Calls"] == 2 and cmn["params"]["Strategy"] == "rrmemory"
    assert len(cmn["members"]) == 3 and len(cmn["entries"]) == 2
    assert [m["InCall"] for m in cmn["members"]] == [0, 1, 1]
    assert cmn["entries"][0]["Position"] == 1 and cmn["entries"][0]["Wait"] >= 95
    assert status["hotline-yue"]["entries"] == []


def test_reconnects_after_the_manager_drops_the_connection(ami, client):
    assert client.queue_summary()
    ami.drop()
    time.sleep(0.1)
    assert set(client.queue_summary()) == {"hotline-cmn", "hotline-yue"}
    assert ami.connections == 2 and ami.logins == 2
    ami.drop()                                   # dropped again, noticed only when the next action is sent
    assert client.queue_summary()
    assert ami.logins == 3


def test_a_stalled_manager_times_out_quickly_and_then_fails_fast(ami, client):
    assert client.queue_summary()
    ami.stall = True
    t0 = time.monotonic()
    with pytest.raises(AmiTimeout):
        client.queue_summary()
    assert time.monotonic() - t0 < TIMEOUT + 0.5
    t0 = time.monotonic()
    with pytest.raises(AmiUnavailable, match="next try"):     # back-off: no new wait on a dead manager
        client.queue_summary()
    assert time.monotonic() - t0 < 0.1
    ami.stall = False
    time.sleep(0.4)                                           # back-off over
    assert client.queue_summary()


def test_queue_state_is_none_quickly_when_the_manager_stalls(ami, client):
    states = QueueStates.from_client(client, ttl=5.0, timeout=TIMEOUT)
    ami.stall = True
    t0 = time.monotonic()
    assert states.get("hotline-cmn") is None
    assert time.monotonic() - t0 < TIMEOUT + 0.5
    t0 = time.monotonic()
    assert all(states.get("hotline-cmn") is None for _ in range(100))    # the failure is cached
    assert time.monotonic() - t0 < 0.1 and states.fetches == 1


def test_a_server_that_sends_no_banner_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)                      # the kernel completes the connect; nobody ever speaks
    try:
        c = AmiClient("127.0.0.1", silent.getsockname()[1], "u", "p", timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(AmiTimeout, match="banner"):
            c.queue_summary()
        assert time.monotonic() - t0 < 1.2
        assert QueueStates.from_client(c, timeout=0.5).get("q") is None   # in back-off: at once
    finally:
        silent.close()


def test_nothing_listening_is_unavailable_at_once():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    c = AmiClient("127.0.0.1", port, "u", "p", timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(AmiUnavailable, match="cannot connect"):
        c.queue_summary()
    assert time.monotonic() - t0 < 0.5
    assert c.status()["connected"] is False and "cannot connect" in c.status()["last_error"]


def test_a_refused_login_is_a_clear_error(ami):
    c = AmiClient("127.0.0.1", ami.port, "hotline", "wrong", timeout=TIMEOUT)
    with pytest.raises(AmiAuthError) as err:
        c.queue_summary()
    assert "refused the login of user 'hotline'" in str(err.value) and "Authentication failed" in str(err.value)
    assert "wrong" not in str(err.value)                  # the secret is never in a message
    with pytest.raises(AmiUnavailable):                   # back-off after the refusal
        c.queue_summary()
    ami.refuse_logins = True
    c2 = AmiClient("127.0.0.1", ami.port, "hotline", "s3cret", timeout=TIMEOUT)
    with pytest.raises(AmiAuthError):
        c2.queue_summary()
    assert not ami.actions_named("QueueSummary")          # nothing ran without a login


def test_not_an_asterisk_manager():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(0.5)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(AmiError):
            AmiClient("127.0.0.1", srv.getsockname()[1], "u", "p", timeout=0.6).queue_summary()
    finally:
        srv.close()


def test_events_with_channel_variables_do_not_break_the_connection(ami, client):
    # pyst2's ManagerMsg.parse calls dict.has_key on ChanVariable: its message thread would die
    assert client.queue_summary()
    ami.emit(("Event", "Newchannel"), ("Privilege", "call,all"), ("Channel", "PJSIP/trunk-0001"),
             ("ChanVariable", "HOTLINE_LANG=yue"), ("ChanVariable", "CDR(userfield)=x"))
    time.sleep(0.1)
    assert client.ping()
    assert client.queue_summary()


def test_originate_is_acknowledged_then_answered_by_an_event(ami, client):
    handle = client.originate("Local/13800138000@hotline-callback", context="hotline-callback", exten="connect",
                              ring_timeout_s=25, caller_id='"12345" <12345>',
                              variables={"HOTLINE_TARGET": "hotline-cmn", "HOTLINE_LANG": "cmn"})
    assert handle.response["Message"] == "Originate successfully queued"
    event = handle.wait(2.0)
    assert event["Response"] == "Success" and event["Reason"] == "4" and event["ActionID"] == handle.action_id
    [sent] = ami.actions_named("Originate")
    assert sent["Channel"] == "Local/13800138000@hotline-callback" and sent["Exten"] == "connect"
    assert sent["Async"] == "true" and sent["Timeout"] == "25000"
    assert sorted(sent["Variable"]) == ["HOTLINE_LANG=cmn", "HOTLINE_TARGET=hotline-cmn"]
    ami.originate_result, ami.originate_reason = "Failure", 5
    event = client.originate("Local/13800138000@hotline-callback", context="hotline-callback",
                             exten="connect").wait(2.0)
    assert event["Response"] == "Failure" and event["Reason"] == "5"


def test_originate_response_that_never_comes_is_a_bounded_wait(ami, client):
    ami.originate_delay_s = 5
    handle = client.originate("Local/13800138000@hotline-callback", context="hotline-callback", exten="connect")
    t0 = time.monotonic()
    assert handle.wait(0.3) is None
    assert time.monotonic() - t0 < 0.6


def test_line_breaks_in_a_header_value_are_refused_before_sending(ami, client):
    with pytest.raises(ValueError):
        client.originate("Local/1@x\r\nAction: Command", context="c", exten="connect")
    with pytest.raises(ValueError):
        client.originate("Local/1@x", context="c", exten="connect", variables={"A": "1\r\nAction: Logoff"})
    assert not ami.actions_named("Originate") and not ami.actions_named("Command")


def test_many_threads_share_one_connection_and_each_gets_its_own_answer(ami, client):
    results, errors = [], []

    def worker(i):
        try:
            queue = "hotline-cmn" if i % 2 else "hotline-yue"
            results.append((queue, set(client.queue_summary(queue))))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(results) == 20
    assert all(got == {queue} for queue, got in results)
    assert ami.connections == 1


def test_500_calls_make_one_queue_summary(ami, client):
    states = QueueStates.from_client(client, ttl=2.0, timeout=TIMEOUT)
    got = []
    threads = [threading.Thread(target=lambda: got.append(states.get("hotline-cmn"))) for _ in range(500)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(got) == 500 and all(isinstance(s, QueueState) and s.available == 1 and s.callers == 2 for s in got)
    assert len(ami.actions_named("QueueSummary")) == 1
    assert states.get("hotline-nope") is None                       # unknown queue: unknown state


def test_no_deprecation_warnings_on_this_python(ami):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = AmiClient("127.0.0.1", ami.port, "hotline", "s3cret", timeout=TIMEOUT)
        c.queue_summary()
        c.queue_status()
        ami.drop()
        time.sleep(0.1)
        c.queue_summary()
        c.close()
        time.sleep(0.1)
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []
