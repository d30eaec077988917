"""core.cooperative: calls as greenlets on one hub thread — waiting lets other calls run,
deadlines end a wait, offloaded work runs on a worker thread, nothing blocks outside a hub."""
from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import Future

import pytest

from core.cooperative import READ, Hub, current_hub, offload, wait_future


@pytest.fixture
def hub():
    h = Hub("test-hub", offload_threads=2)
    h.start()
    yield h
    h.stop()


def run_calls(hub: Hub, *fns, timeout: float = 10.0) -> list:
    """Spawn each fn as a call on the hub; wait until all ended; their results or exceptions."""
    results: list = [None] * len(fns)
    done = threading.Semaphore(0)

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[i] = exc
        finally:
            done.release()

    for i, fn in enumerate(fns):
        hub.post(lambda i=i, fn=fn: hub.spawn(wrap, i, fn))
    for _ in fns:
        assert done.acquire(timeout=timeout), "a call never ended"
    return results


def test_a_call_waiting_for_a_future_lets_another_call_run(hub):
    fut: Future = Future()
    order = []

    def waiter():
        order.append("waiting")
        value = wait_future(fut, 5)
        order.append("resumed")
        return value

    def other():
        order.append("other ran")
        threading.Timer(0.05, fut.set_result, ("done",)).start()
        return threading.current_thread().name

    assert run_calls(hub, waiter, other) == ["done", "test-hub"]
    assert order == ["waiting", "other ran", "resumed"]


def test_a_wait_past_its_deadline_raises_timeout_and_the_hub_goes_on(hub):
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        def silent_peer():
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                hub.wait_fd(a.fileno(), READ, 0.3)
            hub.forget(a.fileno())
            return time.monotonic() - t0

        def unanswered_future():
            with pytest.raises(TimeoutError):
                wait_future(Future(), 0.3)
            return "ok"

        waited, ok = run_calls(hub, silent_peer, unanswered_future)
    assert 0.3 <= waited < 1.5 and ok == "ok"
    assert run_calls(hub, lambda: "still running") == ["still running"]


def test_a_socket_wait_resumes_when_data_arrives(hub):
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)

        def reader():
            hub.wait_fd(a.fileno(), READ, 5)
            data = a.recv(100)
            hub.forget(a.fileno())
            return data

        threading.Timer(0.05, b.sendall, (b"200 result=0\n",)).start()
        assert run_calls(hub, reader) == [b"200 result=0\n"]


def test_offload_runs_on_a_worker_inside_a_call_and_inline_elsewhere(hub):
    here = threading.current_thread().name
    assert offload(lambda: threading.current_thread().name) == here       # no hub: plain call
    assert current_hub() is None

    def call():
        return offload(lambda: threading.current_thread().name), current_hub() is hub

    [(worker, inside)] = run_calls(hub, call)
    assert worker == "test-hub-offload" and inside


def test_an_exception_in_offloaded_work_reaches_the_call(hub):
    def call():
        return offload(lambda: 1 / 0)

    [result] = run_calls(hub, call)
    assert isinstance(result, ZeroDivisionError)


def test_many_calls_each_waiting_on_its_own_socket(hub):
    pairs = [socket.socketpair() for _ in range(200)]
    try:
        for a, _ in pairs:
            a.setblocking(False)

        def call(a):
            def run():
                hub.wait_fd(a.fileno(), READ, 5)
                data = a.recv(10)
                hub.forget(a.fileno())
                return data
            return run

        def feed():
            time.sleep(0.05)
            for i, (_, b) in enumerate(reversed(pairs)):
                b.sendall(str(199 - i).encode())

        threading.Thread(target=feed).start()
        results = run_calls(hub, *[call(a) for a, _ in pairs])
        assert results == [str(i).encode() for i in range(200)]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_queue_state_callers_on_a_hub_share_one_fetch_off_the_hub(hub):
    """routing.state.QueueStates on a hub: the fetch (blocking manager I/O) runs on a worker
    thread; the other calls join it; meanwhile the hub keeps running other calls."""
    from routing.state import QueueState, QueueStates

    release, fetching = threading.Event(), threading.Event()
    threads: list[str] = []
    state = QueueState(available=1, callers=0, longest_wait_s=0, holdtime_s=5)

    def source():
        threads.append(threading.current_thread().name)
        fetching.set()
        assert release.wait(10)
        return {"hotline-cmn": state}

    states = QueueStates(source, ttl=60.0, wait_s=10.0)
    got: list = []
    done = threading.Semaphore(0)

    def asker():
        got.append(states.get("hotline-cmn"))
        done.release()

    for _ in range(20):
        hub.post(lambda: hub.spawn(asker))
    assert fetching.wait(5)
    assert hub.call(lambda: "hub answers", timeout=2) == "hub answers"   # not blocked by the fetch
    assert run_calls(hub, lambda: "another call") == ["another call"]
    assert got == []                                  # every asker still waits for the one fetch
    release.set()
    for _ in range(20):
        assert done.acquire(timeout=5)
    assert got == [state] * 20 and states.fetches == 1
    assert len(threads) == 1 and threads[0].startswith("test-hub-offload")    # a worker, not the hub


def test_queue_state_joiners_give_up_after_wait_s_and_answer_unknown(hub):
    from routing.state import QueueStates

    release, fetching = threading.Event(), threading.Event()

    def source():
        fetching.set()
        release.wait(10)
        return {"hotline-cmn": "known"}

    states = QueueStates(source, ttl=60.0, wait_s=0.2)
    first = threading.Thread(target=states.all)           # a plain thread holds the fetch
    first.start()
    try:
        assert fetching.wait(5)
        assert run_calls(hub, lambda: states.get("hotline-cmn")) == [None]   # unknown: route to the queue
    finally:
        release.set()
        first.join(5)
    assert states.fetches == 1 and states.get("hotline-cmn") == "known"      # the fetch, once done, is kept
