"""知识库: search as the IVR would (the same index, the same calibrated score and threshold), edit
an entry, import a JSON Lines file (DESIGN §4 interchange: all or nothing, every bad line listed).

Edits and imports are validated by ``knowledge.interchange`` exactly like ``hotline kb import``,
written in one transaction with their audit entry, and the index is rebuilt at once (other
engine processes pick the change up within ``kb_refresh_s``).
"""
from __future__ import annotations

import json
from urllib.parse import quote

from sqlalchemy import func, or_, select

from knowledge import interchange
from knowledge.models import KnowledgeEntry
from web.console.base import Console, Ctx

PAGE_SIZE = 30
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _kb(ctx: Ctx):
    kb = getattr(ctx.console.engine, "kb", None)
    if kb is None:
        from knowledge.service import KnowledgeBase

        kb = ctx.console.engine.kb = KnowledgeBase(ctx.db, threshold=ctx.settings.kb_threshold, zone=ctx.zone,
                                                   refresh_s=ctx.settings.kb_refresh_s)
    return kb


def index(ctx: Ctx):
    q = ctx.arg("q")[:500]
    kb = _kb(ctx)
    result, hits = None, []
    if q:
        result = kb.search(q, k=5, now=ctx.now)
        for i, match in enumerate(result.matches):
            entry = kb.entry(match.entry_id)
            if entry is not None:
                hits.append({"entry": entry, "score": match.score, "played": i == 0 and result.answered})
    entries, total, page, pages = [], 0, 1, 1
    category = ctx.arg("category")[:64]
    if ctx.can("kb.edit") and not q:          # the list of entries when not searching
        try:
            page = max(1, min(int(ctx.arg("page", "1")), 100_000))
        except ValueError:
            page = 1
        find = ctx.arg("find")[:100]
        with ctx.read() as s:
            query = select(KnowledgeEntry)
            if category:
                query = query.where(KnowledgeEntry.category == category)
            if find:
                like = "%" + find.replace("\\", "").replace("%", "").replace("_", "") + "%"
                query = query.where(or_(KnowledgeEntry.id.like(like), KnowledgeEntry.question.like(like)))
            total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
            entries = list(s.scalars(query.order_by(KnowledgeEntry.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
            categories = [c for c in s.scalars(select(KnowledgeEntry.category).distinct().order_by(
                KnowledgeEntry.category)) if c]
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    else:
        categories, find = [], ""
    return ctx.render("kb.html", title="知识库", q=q, result=result, hits=hits, threshold=kb.threshold,
                      entries=entries, total=total, page=page, pages=pages, categories=categories,
                      category=category, find=find, errors=[], indexed=len(kb.index))


def _form_values(entry) -> dict:
    if entry is None:
        return {"id": "", "question": "", "answer": "", "alternates": "", "keywords": "", "unit": "", "category": "",
                "audio": "", "valid_from": "", "valid_to": ""}
    return {"id": entry.id, "question": entry.question, "answer": entry.answer,
            "alternates": "\n".join(entry.alternates or ()), "keywords": "，".join(entry.keywords or ()),
            "unit": entry.unit or "", "category": entry.category or "", "audio": entry.audio or "",
            "valid_from": entry.valid_from.isoformat() if entry.valid_from else "",
            "valid_to": entry.valid_to.isoformat() if entry.valid_to else ""}


def edit(ctx: Ctx):
    entry_id = ctx.arg("id")[:64]
    entry = None
    if entry_id:
        with ctx.read() as s:
            entry = s.get(KnowledgeEntry, entry_id)
        if entry is None:
            return ctx.not_found("知识库中没有这个条目。")
    return ctx.render("kb_entry.html", title="编辑知识条目" if entry else "新增知识条目", values=_form_values(entry),
                      existing=entry is not None, errors=[])


def _split(text: str, commas: bool) -> list[str]:
    pieces = text.replace("\r", "").split("\n")
    if commas:
        pieces = [p for line in pieces for p in line.replace("，", ",").replace("、", ",").split(",")]
    return [p.strip() for p in pieces if p.strip()]


def save(ctx: Ctx):
    values = {name: ctx.raw_field(name) for name in ("id", "question", "answer", "alternates", "keywords", "unit",
                                                      "category", "audio", "valid_from", "valid_to")}
    existing = ctx.field("existing") == "1"
    line = {"id": values["id"].strip(), "question": values["question"], "answer": values["answer"],
            "alternates": _split(values["alternates"], commas=False), "keywords": _split(values["keywords"], commas=True),
            "unit": values["unit"], "category": values["category"], "audio": values["audio"].strip() or None,
            "valid_from": values["valid_from"].strip() or None, "valid_to": values["valid_to"].strip() or None}
    try:
        records = interchange.parse_lines([json.dumps(line, ensure_ascii=False)])
    except interchange.ImportFailed as exc:
        return ctx.render("kb_entry.html", status=422, title="编辑知识条目", values=values, existing=existing,
                          errors=[e.message for e in exc.errors])
    record = records[0]
    with ctx.db.session() as s:
        if not existing and s.get(KnowledgeEntry, record.id) is not None:
            return ctx.render("kb_entry.html", status=422, title="新增知识条目", values=values, existing=False,
                              errors=[f"编号 {record.id} 已存在；请换一个编号，或编辑原条目。"])
        result = interchange.upsert(s, records, ctx.now)
        ctx.audit(s, "kb.edit", record.id, {**result.as_dict(), "question": record.question[:100]})
    _kb(ctx).reload()
    return ctx.redirect("/console/kb/entry?id=" + quote(record.id, safe=""), ok="条目已保存，检索索引已更新。")


async def import_file(ctx: Ctx):
    upload = ctx.form.get("file") if ctx.form is not None else None
    if upload is None or isinstance(upload, str):
        return ctx.redirect("/console/kb", error="请选择要导入的 JSON Lines 文件（.jsonl）。")
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    name = (upload.filename or "upload.jsonl")[:100]
    if len(data) > MAX_IMPORT_BYTES:
        return ctx.redirect("/console/kb", error=f"文件超过 {MAX_IMPORT_BYTES // (1024 * 1024)} MB，请拆分后导入。")
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_import, ctx, name, data)


def _import(ctx: Ctx, name: str, data: bytes):
    try:
        records = interchange.parse_lines(data.splitlines(), name)
    except interchange.ImportFailed as exc:
        kb = _kb(ctx)
        return ctx.render("kb.html", status=422, title="知识库", q="", result=None, hits=[], threshold=kb.threshold,
                          entries=[], total=0, page=1, pages=1, categories=[], category="", find="",
                          indexed=len(kb.index), errors=[str(e) for e in exc.errors[:200]],
                          error_total=len(exc.errors), import_name=name)
    if not records:
        return ctx.redirect("/console/kb", error="文件中没有条目。")
    with ctx.db.session() as s:
        result = interchange.upsert(s, records, ctx.now)
        ctx.audit(s, "kb.import", name, result.as_dict())
    _kb(ctx).reload()
    return ctx.redirect("/console/kb", ok=f"已导入 {name}：新增 {result.created} 条，更新 {result.updated} 条，"
                                          f"未变 {result.unchanged} 条。")


def routes(console: Console) -> list:
    return [console.page("/console/kb", index, "kb.search"),
            console.page("/console/kb/entry", edit, "kb.edit"),
            console.page("/console/kb/entry", save, "kb.edit", methods=["POST"]),
            console.page("/console/kb/import", import_file, "kb.edit", methods=["POST"])]
