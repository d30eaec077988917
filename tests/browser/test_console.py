"""Issue 8 in a real browser: Debian's Chromium, driven by Playwright, against the console the
web listener serves (uvicorn in a thread) over a real engine whose FastAGI server answers the
fake Asterisk."""
from __future__ import annotations

import re

from blocklist.models import Block, BlockEvent
from tests.browser.conftest import LAPTOP, PHONE, login, shot
from tests.fake_asterisk import Listen, place_call
from tickets.models import Ticket
from web.console.audit import AuditEntry


def test_admin_blocks_a_number_and_the_next_call_from_it_hears_the_restriction(site, page):
    login(page, site, "admin.li")
    assert page.url.endswith("/console/overview")
    page.goto(site.base + "/console/blocklist")
    form = page.locator("#add-block")
    form.locator("input[name=number]").fill("138 0013 8000")
    form.locator("select[name=ground]").select_option("harassing")
    form.locator("textarea[name=evidence]").fill("连续三天辱骂话务员，录音 1125-07")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "已封禁 13800138000" in page.locator(".flash.ok").inner_text()
    assert page.locator("#number .badge.danger").count() == 1
    assert "13800138000" not in page.url and "/console/blocklist/block/" in page.url   # never in a URL

    # the next call from that number, written another way by the network, hears the notice
    result = place_call(site.fastagi_port, Listen(), callerid="+86 138-0013-8000")
    assert result.variables["HOTLINE_ACTION"] == "hangup"
    assert [p.rsplit("/", 1)[-1] for p in result.played][:1] == ["restricted_notice"]
    with site.running.session() as s:
        block = s.query(Block).filter_by(number_key="13800138000").one()
        assert block.decided_by == "admin.li" and block.attempts == 1
        actors = {e.action: e.actor for e in s.query(BlockEvent).filter_by(block_id=block.id)}
        assert actors["added"] == "admin.li" and actors["attempt"] == "system"
        entry = s.query(AuditEntry).filter_by(action="blocklist.add").one()
        assert entry.actor == "admin.li" and entry.target == "13800138000" and entry.address == "127.0.0.1"


def test_an_agent_is_refused_the_admin_pages_and_sees_no_admin_links(site, page):
    login(page, site, "agent.zhao")
    assert page.url.endswith("/console/agent")
    nav = page.locator("nav.nav").inner_text()
    assert "坐席工作台" in nav and "工单" in nav
    for label in ("黑名单", "操作日志", "概览"):
        assert label not in nav
    for path in ("/console/blocklist", "/console/audit", "/console/overview", "/console/kb/entry",
                 "/console/blocklist/block/1"):
        response = page.goto(site.base + path)
        assert response.status == 403, path
        assert "无权访问" in page.content()
    # what an agent may do
    assert page.goto(site.base + "/console/kb?q=社保卡丢了怎么办").status == 200
    assert page.locator(".hit").count() >= 1
    assert page.locator("a", has_text="编辑").count() == 0


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(site, page):
    login(page, site, "admin.li")
    form = {"number": "13700001234", "ground": "harassing", "evidence": "test"}
    response = page.request.post(site.base + "/console/blocklist/add", form=form)
    assert response.status == 403
    response = page.request.post(site.base + "/console/blocklist/add", form={**form, "csrf_token": "forged"})
    assert response.status == 403
    assert "CSRF" in response.text()
    with site.running.session() as s:
        assert s.query(Block).filter_by(number_key="13700001234").count() == 0
        assert s.query(AuditEntry).filter_by(action="blocklist.add").count() == 0
    # the same post with the page's own token goes through
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert page.request.post(site.base + "/console/blocklist/add", form={**form, "csrf_token": token},
                             max_redirects=0).status == 303


def test_a_unit_user_sees_only_its_own_tickets(site, page):
    login(page, site, "unit.jtj")
    assert page.url.endswith("/console/tickets")
    listed = set(re.findall(r"\b\d{12,}\b", page.locator("table.tickets tbody").inner_text()))
    mine = {site.seeded.tickets[k] for k in ("overdue", "jtj_new", "reported")}
    assert mine <= listed
    assert site.seeded.tickets["zjj"] not in listed and site.seeded.tickets["received"] not in listed
    assert page.goto(site.base + "/console/tickets/" + site.seeded.tickets["zjj"]).status == 404
    assert page.goto(site.base + "/console/tickets/" + site.seeded.tickets["jtj_new"]).status == 200
    # the caller's number is masked for a unit
    assert "138****8000" in page.content() and "13800138000" not in page.content()
    # the unit signs for it
    with page.expect_navigation():
        page.click("text=签收")
    assert "已签收" in page.locator(".flash.ok").inner_text()
    with site.running.session() as s:
        ticket = s.query(Ticket).filter_by(number=site.seeded.tickets["jtj_new"]).one()
        assert ticket.state == "accepted"


def test_log_in_attempts_are_rate_limited(site, page):
    for _ in range(5):
        login(page, site, "leader.wang", "wrong password")
        assert "用户名或密码不正确" in page.content()
    login(page, site, "leader.wang")            # the right password, but the account is locked now
    assert "过于频繁" in page.content()
    assert "/console/login" in page.url
    with site.running.session() as s:
        assert s.query(AuditEntry).filter_by(action="login.failed", actor="leader.wang").count() == 5
        assert s.query(AuditEntry).filter_by(action="login.limited").count() == 1


def test_the_agent_screen_updates_live_when_a_call_arrives(site, page):
    login(page, site, "agent.zhao")
    page.wait_for_selector("#live-state.on")
    before = page.locator("#call-list li[data-call]").count()
    place_call(site.fastagi_port, Listen(), Listen(), callerid="13566667777")
    page.wait_for_selector("#call-list li[data-call] >> text=13566667777", timeout=15_000)
    assert page.locator("#call-list li[data-call]").count() == before + 1
    page.wait_for_selector("#call-panel >> text=13566667777")
    # and the agent takes the request from the panel that appeared
    page.fill("#ticket-form textarea[name=content]", "反映小区门口路灯不亮。")
    with page.expect_navigation():
        page.click("#ticket-form button[type=submit]")
    assert "已受理，工单号" in page.locator(".flash.ok").inner_text()


def test_caller_text_is_escaped(site, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, site, "agent.zhao")
    page.goto(site.base + "/console/agent?call=" + site.seeded.calls["script"])
    assert "<script>alert('x')</script>" in page.locator("blockquote.transcript").inner_text()
    assert dialogs == []


PAGES = [
    ("overview", "admin.li", "/console/overview"),
    ("blocklist", "admin.li", "/console/blocklist", "139 1111 2222"),
    ("tickets", "admin.li", "/console/tickets"),
    ("ticket", "admin.li", "/console/tickets/{reported}"),
    ("kb-search", "admin.li", "/console/kb?q=社保卡丢了怎么补"),
    ("leader-calendar", "leader.wang", "/console/leader"),
    ("agent", "agent.zhao", "/console/agent?call={call}"),
]


def test_screenshots_of_the_main_pages_at_laptop_and_phone_sizes(site, browser):
    for size_name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      device_scale_factor=1, is_mobile=size_name == "phone",
                                      has_touch=size_name == "phone")
        try:
            page = context.new_page()
            user = None
            for name, who, path, *search in PAGES:
                if who != user:
                    context.clear_cookies()
                    login(page, site, who)
                    user = who
                url = site.base + path.format(reported=site.seeded.tickets["reported"], call=site.seeded.calls["script"])
                response = page.goto(url)
                assert response.status == 200, (name, response.status)
                if search:                       # a number is searched by a posted form, not a URL
                    page.locator("form[role=search] input[name=q]").fill(search[0])
                    with page.expect_navigation():
                        page.locator("form[role=search] button[type=submit]").click()
                    assert "13911112222" in page.locator("#number").inner_text() and "1111" not in page.url
                assert page.locator("html").get_attribute("lang") == "zh-CN"
                # nothing wider than the screen but the tables, which scroll in their own box
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"] + 1, (name, size_name, width)
                path = shot(page, f"{name}-{size_name}")
                assert path.stat().st_size > 5_000
        finally:
            context.close()
