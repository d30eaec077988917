"""Issue 8 without a browser: every console page's access rules and CSRF, sessions, the log-in rate
limit, the unit scope, the audit log, /metrics and ``hotline users`` (starlette's TestClient over
the app ``hotline serve`` runs, on an engine over a migrated SQLite copy)."""
from __future__ import annotations

import io
import json
import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from blocklist.models import Block, BlockEvent
from core.clock import utcnow
from core.config import load_settings
from core.db import Database
from hotline.bootstrap import build_engine
from hotline.cli import main as hotline
from knowledge.models import KnowledgeEntry
from leader_desk.models import LeaderSession
from tests.browser.seed import PASSWORD, SCRIPT, add_units, add_users, seed
from tickets.models import Ticket, TicketEvent
from web.app import create_app
from web.console import console_routes
from web.console.audit import AuditEntry, AuditIsAppendOnly
from web.console.auth import COOKIE, Auth, LoginThrottle, WebSession
from web.console.users import User

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self):
        return utcnow() + self.offset


@pytest.fixture
def console(tmp_path, sqlite_template):
    import tests.conftest as c

    c._import_models()
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(sqlite_template, data / "hotline.db")
    settings = load_settings(env={}, data_dir=data)
    clock = Clock()
    engine = build_engine(settings, db=Database(settings.db_url), clock=clock)
    seeded = seed(engine)
    app = create_app(engine, extra_routes=console_routes(engine))
    yield engine, app, seeded, clock
    engine.close()


def client_for(app, name: str | None = None, password: str = PASSWORD, base: str = "http://testserver") -> TestClient:
    client = TestClient(app, base_url=base)
    if name is not None:
        response = login(client, name, password)
        assert response.status_code == 303, response.text
    return client


def login(client: TestClient, name: str, password: str = PASSWORD):
    form = client.get("/console/login")
    token = TOKEN.search(form.text).group(1)
    return client.post("/console/login", data={"csrf_token": token, "name": name, "password": password},
                       follow_redirects=False)


def tbody(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def csrf_of(client: TestClient, path: str = "/console/tickets") -> str:
    return TOKEN.search(client.get(path).text).group(1)


# -- access ---------------------------------------------------------------------------------------

PAGES = {  # path -> roles that may open it
    "/console/overview": {"admin", "leader"},
    "/console/agent": {"admin", "agent"},
    "/console/tickets": {"admin", "agent", "leader", "unit"},
    "/console/blocklist": {"admin"},
    "/console/kb": {"admin", "agent"},
    "/console/kb/entry": {"admin"},
    "/console/leader": {"admin", "agent", "leader"},
    "/console/audit": {"admin"},
}
USERS_BY_ROLE = {"admin": "admin.li", "agent": "agent.zhao", "leader": "leader.wang", "unit": "unit.jtj"}


def test_each_role_opens_only_its_pages(console):
    _engine, app, _seeded, _clock = console
    for role, name in USERS_BY_ROLE.items():
        client = client_for(app, name)
        for path, roles in PAGES.items():
            response = client.get(path)
            expected = 200 if role in roles else 403
            assert response.status_code == expected, (role, path, response.status_code)
            assert '<html lang="zh-CN">' in response.text
            if expected == 200:
                nav = response.text.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
                assert ('href="/console/blocklist"' in nav) == (role == "admin")
                assert ('href="/console/audit"' in nav) == (role == "admin")


def test_without_a_session_pages_lead_to_the_log_in_and_writes_are_refused(console):
    _engine, app, seeded, _clock = console
    client = client_for(app)
    response = client.get("/console/tickets?state=received", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Ftickets%3Fstate%3Dreceived"
    # a form posted with no session (it expired while the page was open): nothing done, back to
    # the log-in with a message, and from there to the page the form was on when that is a page
    posted = client.post("/console/blocklist/add", data={"number": "13700001234"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/console/login?next=%2Fconsole%2F"
    from_page = client.post("/console/tickets", data={"q": "13700001234"}, follow_redirects=False,
                            headers={"Referer": "http://testserver/console/tickets?x=13700001234"})
    assert from_page.headers["location"] == "/console/login?next=%2Fconsole%2Ftickets"    # query dropped
    login = client.get(from_page.headers["location"])
    assert login.status_code == 200 and "登录已过期" in login.text
    for referer in ("http://evil.example/console/tickets", "http://testserver/console/no-such-page",
                    "http://testserver//evil.example/x", "not a url \ at all"):
        out = client.post("/console/blocklist/add", data={}, headers={"Referer": referer}, follow_redirects=False)
        assert out.headers["location"] == "/console/login?next=%2Fconsole%2F", referer
    with _engine.db.session() as s:
        assert s.query(Block).filter(Block.number_key == "13700001234").count() == 0     # nothing was done
    assert client.get("/", follow_redirects=False).headers["location"] == "/console/"
    # a forged cookie is no session
    client.cookies.set(COOKIE, "abc.def")
    assert client.get("/console/tickets", follow_redirects=False).status_code == 303


def post_routes(app) -> list[Route]:
    return [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/console/")
            and "POST" in (r.methods or ()) and r.path != "/console/login"]


def test_every_form_post_without_a_good_csrf_token_gets_403_and_changes_nothing(console):
    engine, app, seeded, _clock = console
    routes = post_routes(app)
    assert len(routes) >= 20
    admin, unit = client_for(app, "admin.li"), client_for(app, "unit.jtj")
    with engine.db.session() as s:
        before = (s.query(AuditEntry).count(), s.query(Block).count(), s.query(TicketEvent).count())
    for route in routes:
        path = route.path.replace("{number}", seeded.tickets["jtj_new"])
        client = unit if path.endswith(("/accept", "/decline", "/extension", "/report")) else admin
        form = {"number": "13700001234", "ground": "harassing", "evidence": "x", "reason": "x", "unit": "ZJJ",
                "kind": "help", "content": "x", "call_id": seeded.calls["script"], "rating": "1", "days": "3",
                "body": "x", "session": "1", "decision": "approve", "id": "new-1", "question": "q", "answer": "a"}
        assert client.post(path, data=form).status_code == 403, path
        assert client.post(path, data={**form, "csrf_token": "forged-token"}).status_code == 403, path
        assert client.post(path, data=form, headers={"X-CSRF-Token": "forged"}).status_code == 403, path
    with engine.db.session() as s:
        assert (s.query(AuditEntry).count(), s.query(Block).count(), s.query(TicketEvent).count()) == before
    # another person's token is no good either
    token = csrf_of(unit)
    assert admin.post("/console/blocklist/add", data={"number": "13700001234", "ground": "harassing",
                                                       "evidence": "x", "csrf_token": token}).status_code == 403
    # the log-in form has its own (double-submit) token
    fresh = client_for(app)
    assert fresh.post("/console/login", data={"name": "admin.li", "password": PASSWORD}).status_code == 403


def test_session_cookie_flags(console):
    _engine, app, _seeded, _clock = console
    client = client_for(app)
    response = login(client, "admin.li")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    for name, value in response.headers.items():
        assert PASSWORD not in value
    page = client.get("/console/tickets")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_secure_cookies_when_the_public_url_is_https(tmp_path, sqlite_template):
    import tests.conftest as c

    c._import_models()
    shutil.copyfile(sqlite_template, tmp_path / "hotline.db")
    settings = load_settings(env={}, data_dir=tmp_path, console_public_url="https://hotline.example.gov.cn")
    engine = build_engine(settings, db=Database(settings.db_url))
    try:
        with engine.db.session() as s:
            add_units(s, utcnow())
            add_users(s, utcnow())
        app = create_app(engine, extra_routes=console_routes(engine))
        client = TestClient(app, base_url="https://testserver")
        response = login(client, "admin.li")
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE))
        assert "Secure" in cookie
        assert client.get("/console/overview").status_code == 200
    finally:
        engine.close()


def test_sessions_end_when_idle_after_their_lifetime_and_at_log_out(console):
    engine, app, _seeded, clock = console
    client = client_for(app, "agent.zhao")
    assert client.get("/console/tickets").status_code == 200
    clock.offset = timedelta(minutes=29)
    assert client.get("/console/tickets").status_code == 200        # still fresh: 29 min idle
    clock.offset = timedelta(minutes=29 + 31)
    assert client.get("/console/tickets", follow_redirects=False).status_code == 303   # idle 31 min
    clock.offset = timedelta()
    client = client_for(app, "agent.zhao")
    for minutes in range(20, 12 * 60, 20):                           # busy all day …
        clock.offset = timedelta(minutes=minutes)
        assert client.get("/console/tickets", follow_redirects=False).status_code == 200, minutes
    clock.offset = timedelta(hours=12, minutes=1)                    # … but not past 12 hours
    assert client.get("/console/tickets", follow_redirects=False).status_code == 303
    clock.offset = timedelta()
    client = client_for(app, "agent.zhao")
    assert client.post("/console/logout", data={"csrf_token": csrf_of(client)},
                       follow_redirects=False).status_code == 303
    stale = TestClient(app, base_url="http://testserver")
    with engine.db.session() as s:
        ended = s.scalars(select(WebSession).where(WebSession.end_reason == "logout")).all()
        assert len(ended) == 1
    assert stale.get("/console/tickets", follow_redirects=False).status_code == 303


def test_disabling_an_account_or_setting_its_password_ends_its_sessions(console, monkeypatch):
    engine, app, _seeded, _clock = console
    monkeypatch.setenv("HOTLINE_DATABASE_URL", engine.settings.db_url)
    client = client_for(app, "agent.zhao")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-password-2026\n"))
    assert hotline(["users", "set-password", "agent.zhao", "--password-stdin"]) == 0
    assert client.get("/console/tickets", follow_redirects=False).status_code == 303
    assert login(client_for(app), "agent.zhao").status_code == 401
    client = client_for(app, "agent.zhao", "a-new-password-2026")
    assert hotline(["users", "disable", "agent.zhao"]) == 0
    assert client.get("/console/tickets", follow_redirects=False).status_code == 303
    assert login(client_for(app), "agent.zhao", "a-new-password-2026").status_code == 401


# -- the log-in rate limit ---------------------------------------------------------------------------

def test_the_log_in_rate_limit_is_kept_in_the_database_and_shared_by_processes(database):
    settings = load_settings(env={}, console_login_max_failures=3, console_login_max_failures_per_address=5,
                             console_login_lockout_s=60)
    now = [utcnow()]
    with database.session() as s:
        add_units(s, now[0])
        add_users(s, now[0])
    other = Database(database.url)          # a second engine process: its own connections and state
    try:
        one, two = Auth(database, settings, lambda: now[0]), Auth(other, settings, lambda: now[0])
        assert one.login("agent.zhao", "wrong", address="10.0.0.1").outcome == "failed"
        assert two.login("agent.zhao", "wrong", address="10.0.0.2").outcome == "failed"
        assert one.login("agent.zhao", "wrong", address="10.0.0.3").outcome == "failed"   # the third: locked now
        limited = two.login("agent.zhao", PASSWORD, address="10.0.0.4")
        assert limited.outcome == "limited" and 50 <= limited.retry_after <= 61
        now[0] += timedelta(seconds=61)
        assert two.login("agent.zhao", "wrong", address="10.0.0.4").outcome == "failed"    # fourth: 120 s
        now[0] += timedelta(seconds=61)
        assert one.login("agent.zhao", PASSWORD, address="10.0.0.4").outcome == "limited"
        now[0] += timedelta(seconds=60)
        assert one.login("agent.zhao", PASSWORD, address="10.0.0.4").outcome == "ok"
        with database.session() as s:
            row = s.get(LoginThrottle, "user:agent.zhao")
            assert row.failures == 0 and row.locked_until is None
        # one address trying many accounts is stopped too
        for name in ("a1", "a2", "a3", "a4"):
            assert one.login(name, "x", address="10.9.9.9").outcome == "failed"
        assert two.login("leader.wang", "x", address="10.9.9.9").outcome == "failed"       # fifth from there
        assert two.login("leader.wang", PASSWORD, address="10.9.9.9").outcome == "limited"
        assert one.login("leader.wang", PASSWORD, address="10.9.9.8").outcome == "ok"
    finally:
        other.dispose()


def test_the_log_in_page_says_when_to_try_again(console):
    _engine, app, _seeded, _clock = console
    client = client_for(app)
    for _ in range(5):
        assert login(client, "leader.wang", "nope").status_code == 401
    response = login(client, "leader.wang")
    assert response.status_code == 429 and "过于频繁" in response.text
    assert 1 <= int(response.headers["retry-after"]) <= 61


# -- units see their own tickets only ------------------------------------------------------------------

def test_a_unit_sees_and_handles_only_its_own_tickets(console):
    engine, app, seeded, _clock = console
    zjj = client_for(app, "unit.zjj")
    listed = zjj.get("/console/tickets").text
    assert seeded.tickets["zjj"] in listed
    for other in ("overdue", "jtj_new", "reported", "received", "closed"):
        assert seeded.tickets[other] not in listed
        assert zjj.get(f"/console/tickets/{seeded.tickets[other]}").status_code == 404
    token = csrf_of(zjj)
    for other in ("overdue", "jtj_new", "reported", "received", "closed"):
        searched = zjj.post("/console/tickets", data={"csrf_token": token, "q": seeded.tickets[other]}).text
        assert seeded.tickets[other] not in tbody(searched)
    assert seeded.tickets["jtj_new"] not in tbody(zjj.get("/console/tickets?unit=JTJ").text)
    # a search typed into the URL is ignored (searches are posted, so text never sits in a URL)
    assert 'name="q" value=""' in zjj.get(f"/console/tickets?q={seeded.tickets['zjj']}").text
    response = zjj.post(f"/console/tickets/{seeded.tickets['jtj_new']}/accept", data={"csrf_token": token})
    assert response.status_code == 404
    with engine.db.session() as s:
        assert s.scalars(select(Ticket).where(Ticket.number == seeded.tickets["jtj_new"])).one().state == "dispatched"
    # its own ticket: accepted, then a closure report that lacks everything is refused with the list
    number = seeded.tickets["zjj"]
    assert zjj.post(f"/console/tickets/{number}/accept", data={"csrf_token": token},
                    follow_redirects=False).status_code == 303
    bare = "根据《物业管理条例》第四十六条规定，该诉求不属于我单位职责范围。"
    response = zjj.post(f"/console/tickets/{number}/report", data={"csrf_token": token, "body": bare})
    assert response.status_code == 422
    assert "仅引用法规条文" in response.text and "办理时间" in response.text and bare in response.text
    good = ("答复内容：已电话回复市民，市民表示认可。承办单位：市住房和城乡建设局。办理时间：2026年11月20日。"
            "办理方式：现场检查。办理过程：责令施工单位停止夜间施工并张贴公告。办理结果：夜间施工已停止。")
    assert zjj.post(f"/console/tickets/{number}/report", data={"csrf_token": token, "body": good},
                    follow_redirects=False).status_code == 303
    # and the admin closes it after review
    admin = client_for(app, "admin.li")
    detail = admin.get(f"/console/tickets/{number}").text
    assert "要素核查" in detail and "✘" not in detail
    with engine.db.session() as s:
        version = s.scalars(select(Ticket).where(Ticket.number == number)).one().version
    assert admin.post(f"/console/tickets/{number}/review", data={"csrf_token": csrf_of(admin), "decision": "approve",
                                                                 "version": str(version)},
                      follow_redirects=False).status_code == 303
    with engine.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.state == "closed"
        actors = [e.actor for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
        assert actors[-3:] == ["unit.zjj", "unit.zjj", "admin.li"]


def test_a_stale_form_does_not_overwrite_a_newer_change(console):
    engine, app, seeded, _clock = console
    admin = client_for(app, "admin.li")
    number = seeded.tickets["received"]
    token = csrf_of(admin)
    assert admin.post(f"/console/tickets/{number}/dispatch", data={"csrf_token": token, "unit": "JTJ",
                                                                   "version": "1"}, follow_redirects=False).status_code == 303
    response = admin.post(f"/console/tickets/{number}/dispatch", data={"csrf_token": token, "unit": "ZJJ", "version": "1"})
    assert "已被他人修改" in response.text
    with engine.db.session() as s:
        from tickets.models import Unit

        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert s.get(Unit, ticket.unit_id).code == "JTJ"


# -- the blocklist -------------------------------------------------------------------------------------

def test_blocklist_search_add_approve_lift_with_history_and_audit(console):
    engine, app, _seeded, _clock = console
    admin = client_for(app, "admin.li")
    token = csrf_of(admin, "/console/blocklist")
    page = admin.post("/console/blocklist/search", data={"csrf_token": token, "q": "+86 139-1111-2222"}).text
    assert "13911112222" in page and "限制中" in page and "辱骂话务员" in page
    assert "不是有效的电话号码" in admin.post("/console/blocklist/search", data={"csrf_token": token, "q": "12x"}).text
    response = admin.post("/console/blocklist/add", data={"csrf_token": token, "number": "0752-2345678",
                                                          "ground": "no_request", "evidence": "40 次无声来电"})
    assert response.status_code == 200 and "已封禁 07522345678" in response.text
    # the browser lands on the block's page: the number is in the page, never in a URL
    [hop] = response.history
    assert hop.headers["location"].startswith("/console/blocklist/block/")
    assert "07522345678" not in str(response.url) and "2345678" not in hop.headers["location"]
    assert "0752" not in "".join(str(r.url) for r in response.history)
    response = admin.post("/console/blocklist/approve", data={"csrf_token": token, "number": "138 2222 3333",
                                                              "note": "核实属实"})
    assert "已批准" in response.text
    response = admin.post("/console/blocklist/lift", data={"csrf_token": token, "number": "13911112222",
                                                           "reason": "来电人已道歉"})
    assert "已提前解除" in response.text
    response = admin.post("/console/blocklist/lift", data={"csrf_token": token, "number": "13911112222",
                                                           "reason": "again"})
    assert "操作未完成" in response.text
    # refused, the admin stays on that number's page (reached through its block, not the number)
    assert "/console/blocklist/block/" in str(response.url) and 'id="number"' in response.text
    assert "13911112222" in response.text and "13911112222" not in str(response.url)
    history = admin.post("/console/blocklist/search", data={"csrf_token": token, "q": "13911112222"}).text
    assert "提前解除" in history and "来电人已道歉" in history
    with engine.db.session() as s:
        events = {e.action: e.actor for e in s.scalars(select(BlockEvent))}
        assert events["added"] == "admin.li" and events["approved"] == "admin.li" and events["lifted"] == "admin.li"
        audit = [(a.actor, a.action, a.target, a.address) for a in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("blocklist.%")).order_by(AuditEntry.id))]
        assert audit == [("admin.li", "blocklist.add", "07522345678", "testclient"),
                         ("admin.li", "blocklist.approve", "13822223333", "testclient"),
                         ("admin.li", "blocklist.lift", "13911112222", "testclient")]


def test_an_agent_proposes_a_block_from_a_call(console):
    engine, app, seeded, _clock = console
    agent = client_for(app, "agent.zhao")
    token = csrf_of(agent, "/console/agent")
    response = agent.post("/console/blocklist/propose", data={"csrf_token": token, "call_id": seeded.calls["script"],
                                                              "ground": "insulting", "evidence": "辱骂话务员"})
    assert "已提交限制申请" in response.text
    with engine.db.session() as s:
        block = s.scalars(select(Block).where(Block.number_key == "13800138000")).one()
        assert block.state == "proposed" and block.proposed_by == "agent.zhao"
    # the agent cannot decide it
    assert agent.post("/console/blocklist/approve", data={"csrf_token": token, "number": "13800138000"}).status_code == 403


# -- the agent screen ---------------------------------------------------------------------------------

def test_the_agent_screen_shows_the_call_history_and_escapes_what_the_caller_said(console):
    engine, app, seeded, _clock = console
    agent = client_for(app, "agent.zhao")
    page = agent.get(f"/console/agent?call={seeded.calls['script']}").text
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert seeded.tickets["jtj_new"] in page and "上次反映的公交问题" in page
    panel = agent.get(f"/console/agent/call/{seeded.calls['script']}")
    assert panel.status_code == 200 and SCRIPT not in panel.text
    token = csrf_of(agent, "/console/agent")
    response = agent.post("/console/agent/ticket", data={
        "csrf_token": token, "call_id": seeded.calls["script"], "kind": "complaint",
        "content": "市民中心东门外的两盏路灯一周不亮，晚上很黑。", "caller_name": "王先生", "unit": "JTJ"})
    assert "已受理，工单号" in response.text
    with engine.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.call_id == seeded.calls["script"])).first()
        assert ticket is not None
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.create")).one()
        assert entry.actor == "agent.zhao" and entry.target == ticket.number


def test_the_live_feed_sends_calls_handed_to_the_queue(console, monkeypatch):
    engine, app, seeded, _clock = console
    from callers.calls import CallOutcome, close_call, open_call
    from web.console import agent as agent_page

    monkeypatch.setattr(agent_page, "POLL_S", 0.05)
    monkeypatch.setattr(agent_page, "STREAM_MAX_S", 1.0)
    unit = client_for(app, "unit.jtj")
    assert unit.get("/console/agent/events").status_code == 403
    agent = client_for(app, "agent.zhao")
    since = (utcnow() - timedelta(seconds=1)).isoformat() + "|"
    now = utcnow()
    with engine.db.session() as s:
        open_call(s, call_id="c-live-0001", channel="fastagi", channel_ref="x", caller_key="13512345678",
                  caller_kind="mobile", caller_name="", dnid="", language="yue", started_at=now)
        close_call(s, "c-live-0001", CallOutcome(outcome="handed_off", action="queue", target="hotline-yue",
                                                 transcript="<b>bold</b>"), now)
    with agent.stream("GET", f"/console/agent/events?since={since}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [block for block in body.split("\n\n") if "event: call" in block]
    assert len(events) == 1
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["id"] == "c-live-0001" and data["number"] == "13512345678" and data["queue"] == "hotline-yue"
    assert events[0].startswith("id: ")


# -- knowledge base, leader desk, overview, metrics -------------------------------------------------------

def test_kb_search_shows_the_score_and_admins_edit_and_import(console):
    engine, app, _seeded, _clock = console
    agent = client_for(app, "agent.zhao")
    page = agent.get("/console/kb?q=社保卡丢了怎么补办").text
    assert "社保卡遗失了如何补办" in page and "语音导航将播放此答案" in page
    assert re.search(r'<span class="score"[^>]*>0\.\d{3}</span>', page)
    admin = client_for(app, "admin.li")
    token = csrf_of(admin, "/console/kb")
    bad = '{"id": "t-1", "question": "问", "answer": "答"}\n{"id": "t-2", "question": ""}\nnot json\n'
    response = admin.post("/console/kb/import", data={"csrf_token": token},
                          files={"file": ("bad.jsonl", bad.encode(), "application/json")})
    assert response.status_code == 422 and "line 2" in response.text and "line 3" in response.text
    with engine.db.session() as s:
        assert s.get(KnowledgeEntry, "t-1") is None
    good = ('{"id": "t-1", "question": "图书馆周一开门吗", "answer": "市图书馆周一闭馆。", "category": "文化"}\n'
            '{"id": "t-2", "question": "公交卡怎么退", "answer": "到公交卡服务网点办理退卡。"}\n')
    response = admin.post("/console/kb/import", data={"csrf_token": token},
                          files={"file": ("good.jsonl", good.encode(), "application/json")})
    assert "新增 2 条" in response.text
    assert "市图书馆周一闭馆" in admin.get("/console/kb?q=图书馆星期一开门吗").text
    response = admin.post("/console/kb/entry", data={
        "csrf_token": token, "existing": "1", "id": "t-1", "question": "图书馆周一开门吗",
        "answer": "市图书馆周一闭馆，周二至周日 9:00–21:00 开放。", "alternates": "图书馆礼拜一开不开\n图书馆几点开门",
        "keywords": "图书馆，开放时间", "category": "文化"})
    assert "条目已保存" in response.text
    with engine.db.session() as s:
        entry = s.get(KnowledgeEntry, "t-1")
        assert entry.alternates == ["图书馆礼拜一开不开", "图书馆几点开门"] and entry.keywords == ["图书馆", "开放时间"]
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("kb.%"))).all() == [
            "kb.import", "kb.edit"]
    response = admin.post("/console/kb/entry", data={"csrf_token": token, "existing": "0", "id": "t-2",
                                                     "question": "x", "answer": "y"})
    assert response.status_code == 422 and "已存在" in response.text


def test_leaders_publish_and_cancel_sessions_on_the_calendar(console):
    engine, app, _seeded, clock = console
    leader = client_for(app, "leader.wang")
    page = leader.get("/console/leader").text
    assert "class=\"calendar\"" in page
    token = csrf_of(leader, "/console/leader")
    day = (utcnow() + timedelta(days=5)).astimezone(engine.settings.zone).date()
    with engine.db.session() as s:
        from leader_desk.models import Leader

        leader_id = s.scalars(select(Leader.id).where(Leader.name == "张三")).one()
    response = leader.post("/console/leader/publish", data={
        "csrf_token": token, "leader": str(leader_id), "seat": "seat1", "day": day.isoformat(), "start": "15:00",
        "end": "16:00", "topic": "出租车服务"})
    assert "已发布" in response.text
    clash = leader.post("/console/leader/publish", data={
        "csrf_token": token, "leader": str(leader_id), "seat": "seat1", "day": day.isoformat(), "start": "15:30",
        "end": "16:30"})
    assert "未发布" in clash.text and "overlaps" in clash.text
    with engine.db.session() as s:
        session_id = s.scalars(select(LeaderSession.id).where(LeaderSession.topic == "出租车服务")).one()
    assert "已取消" in leader.post("/console/leader/cancel", data={"csrf_token": token, "session": str(session_id),
                                                                  "reason": "临时会议"}).text
    with engine.db.session() as s:
        row = s.get(LeaderSession, session_id)
        assert row.state == "cancelled" and row.cancelled_by == "leader.wang"
    agent = client_for(app, "agent.zhao")
    assert agent.get("/console/leader").status_code == 200
    assert agent.post("/console/leader/cancel", data={"csrf_token": csrf_of(agent, "/console/leader"),
                                                      "session": "1", "reason": "x"}).status_code == 403


def test_the_overview_draws_its_charts_server_side(console):
    _engine, app, _seeded, _clock = console
    page = client_for(app, "admin.li").get("/console/overview").text
    assert page.count("<svg") >= 6
    assert "满意度评价" in page and "各单位超期工单" in page and "市交通运输局" in page
    assert "<script" not in page.replace('<script src="/console/static/console.js" defer></script>', "")


def test_metrics_endpoint(console):
    _engine, app, _seeded, _clock = console
    client = client_for(app)
    login(client, "nobody", "wrong")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in ("hotline_calls_total", "hotline_handoffs_total", "hotline_blocked_attempts_total",
                 "hotline_recognition_seconds", "hotline_knowledge_seconds", "hotline_console_logins_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert "hotline_tickets_overdue 1.0" in text
    assert re.search(r'hotline_console_logins_total\{result="failed"\} [1-9]', text)
    assert client.get("/healthz").json()["status"] == "ok"


def test_audit_log_is_append_only(console):
    engine, app, _seeded, _clock = console
    client_for(app, "admin.li")
    with pytest.raises(AuditIsAppendOnly):
        with engine.db.session() as s:
            entry = s.scalars(select(AuditEntry)).first()
            entry.actor = "someone else"
            s.flush()
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError):
        with engine.db.session() as s:
            s.execute(text("UPDATE audit_log SET actor = 'x'"))
    page = client_for(app, "admin.li").get("/console/audit").text
    assert "login" in page and "admin.li" in page


# -- hotline users ------------------------------------------------------------------------------------

def test_users_command(console, monkeypatch, capsys):
    engine, app, _seeded, _clock = console
    monkeypatch.setenv("HOTLINE_DATABASE_URL", engine.settings.db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("station-password-1\n"))
    assert hotline(["users", "add", "unit.swj", "--role", "unit", "--unit", "SWJ", "--password-stdin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["role"] == "unit"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert hotline(["users", "add", "x.y", "--role", "agent", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert hotline(["users", "add", "x.y", "--role", "unit", "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert hotline(["users", "add", "x.y", "--role", "agent"]) == 2
    assert "--password-stdin" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hotline(["users", "add", "x.y", "--role", "agent", "--password", "secret-in-argv"])
    capsys.readouterr()
    assert hotline(["users", "list", "--json"]) == 0
    listed = {u["name"]: u for u in json.loads(capsys.readouterr().out)}
    assert listed["unit.swj"]["unit"] == "SWJ" and listed["admin.li"]["role"] == "admin"
    with engine.db.session() as s:
        user = s.scalars(select(User).where(User.name == "unit.swj")).one()
        assert user.password_hash.startswith("$argon2id$") and "station" not in user.password_hash
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.target == "unit.swj")).all() == ["user.add"]
    assert login(client_for(app), "unit.swj", "station-password-1").status_code == 303


def test_metrics_helpers():
    from core import metrics

    class Recognizer:
        workers = 2

        def recognize_file(self, path, language):
            return "文本", 0.9

    before = metrics.RECOGNITION_SECONDS.collect()[0].samples
    count = next(s.value for s in before if s.name.endswith("_count"))
    timed = metrics.Timed(Recognizer(), {"recognize_file": metrics.RECOGNITION_SECONDS})
    assert timed.recognize_file("a.wav", "cmn") == ("文本", 0.9) and timed.workers == 2
    after = metrics.RECOGNITION_SECONDS.collect()[0].samples
    assert next(s.value for s in after if s.name.endswith("_count")) == count + 1

    def broken():
        raise RuntimeError("database down")

    body, _type = metrics.exposition([metrics.DatabaseGauges(broken)])
    assert b"hotline_metrics_database_up 0.0" in body and b"hotline_tickets_overdue" not in body


def test_recordings_play_from_the_recordings_directory_only(console, tmp_path):
    engine, app, seeded, _clock = console
    folder = engine.settings.recordings_dir / "messages"
    folder.mkdir(parents=True)
    wav = folder / "c1-message.wav"
    wav.write_bytes(b"RIFF" + b"\0" * 60)
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"RIFF" + b"\0" * 60)
    with engine.db.session() as s:
        s.scalars(select(Ticket).where(Ticket.number == seeded.tickets["jtj_new"])).one().recording_path = str(wav)
        s.scalars(select(Ticket).where(Ticket.number == seeded.tickets["zjj"])).one().recording_path = str(outside)
    admin = client_for(app, "admin.li")
    assert "<audio controls" in admin.get(f"/console/tickets/{seeded.tickets['jtj_new']}").text
    response = admin.get(f"/console/tickets/{seeded.tickets['jtj_new']}/recording")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert admin.get(f"/console/tickets/{seeded.tickets['zjj']}/recording").status_code == 404
    assert "<audio" not in admin.get(f"/console/tickets/{seeded.tickets['zjj']}").text
    # a unit hears only its own tickets' recordings
    assert client_for(app, "unit.zjj").get(f"/console/tickets/{seeded.tickets['jtj_new']}/recording").status_code == 404
    assert client_for(app, "unit.jtj").get(f"/console/tickets/{seeded.tickets['jtj_new']}/recording").status_code == 200


def test_extensions_ratings_and_flags(console):
    engine, app, seeded, _clock = console
    number = seeded.tickets["jtj_new"]
    unit = client_for(app, "unit.jtj")
    token = csrf_of(unit)
    assert "已提交延期申请" in unit.post(f"/console/tickets/{number}/extension",
                                       data={"csrf_token": token, "days": "5", "reason": "需协调公交公司调整排班"}).text
    admin = client_for(app, "admin.li")
    page = admin.get(f"/console/tickets/{number}").text
    assert "需协调公交公司调整排班" in page
    with engine.db.session() as s:
        before = s.scalars(select(Ticket).where(Ticket.number == number)).one().due_date
    assert "已批准延期" in admin.post(f"/console/tickets/{number}/extension-decision",
                                    data={"csrf_token": csrf_of(admin), "decision": "approve"}).text
    with engine.db.session() as s:
        assert s.scalars(select(Ticket).where(Ticket.number == number)).one().due_date > before
    closed = seeded.tickets["closed"]
    assert "已记录满意度评价" in admin.post(f"/console/tickets/{closed}/rate",
                                      data={"csrf_token": csrf_of(admin), "rating": "5"}).text
    with engine.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == closed)).one()
        assert ticket.rating == 5 and ticket.review
    agent = client_for(app, "agent.zhao")
    assert "已标记为骚扰来电" in agent.post("/console/agent/flag", data={
        "csrf_token": csrf_of(agent, "/console/agent"), "call_id": seeded.calls["script"], "note": "辱骂"}).text
    from blocklist.models import CallFlag

    with engine.db.session() as s:
        assert s.scalars(select(CallFlag.flagged_by)).all() == ["agent.zhao"]
