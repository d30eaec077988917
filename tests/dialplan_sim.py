"""A small interpreter for the shipped dialplan, enough to follow its decisions in tests.

It understands what dialplans/extensions_hotline.conf uses: ``exten =>``/``same =>`` with ``n``
priorities and ``(labels)``, ``${VAR}`` and ``${IF(...)}``, ``$[...]`` with ``=``, ``!=``, ``>``,
``+``, ``&``, ``REGEX``, and the applications NoOp, Verbose, Answer, Set, GotoIf, Goto, Wait,
MixMonitor. AGI, Queue, Dial, Read and Hangup are handed to a callback that plays Asterisk's
part (sets AGISTATUS, QUEUESTATUS, DIALSTATUS …). It is a test aid, not Asterisk: a real
Asterisk run (tests marked ``asterisk``) checks the same file for real.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

DIALPLAN = Path(__file__).resolve().parents[1] / "dialplans" / "extensions_hotline.conf"


def load(path: Path = DIALPLAN) -> tuple[dict, dict[str, str]]:
    """{context: {exten: [(label, app, data)]}} and the [globals]."""
    contexts: dict[str, dict[str, list]] = {}
    globals_: dict[str, str] = {}
    ctx = exten = None
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            ctx = m.group(1)
            contexts.setdefault(ctx, {})
            continue
        if ctx == "globals":
            key, _, value = line.partition("=")
            globals_[key.strip()] = value.strip()
            continue
        m = re.match(r"^(exten|same)\s*=>\s*(.*)$", line)
        if not m:
            continue
        body = m.group(2)
        if m.group(1) == "exten":
            exten, _, body = body.partition(",")
            _prio, _, body = body.partition(",")
        label = None
        pm = re.match(r"^n\(([^)]+)\),(.*)$", body) or re.match(r"^n,(.*)$", body)
        if pm and pm.re.pattern.startswith("^n\\("):
            label, body = pm.group(1), pm.group(2)
        elif pm:
            body = pm.group(1)
        app, _, data = body.partition("(")
        contexts[ctx].setdefault(exten, []).append((label, app.strip(), data[:-1] if data.endswith(")") else data))
    return contexts, globals_


class Channel:
    def __init__(self, variables: dict[str, str], act: Callable[["Channel", str, list[str]], None]) -> None:
        self.contexts, globals_ = load()
        self.vars = {**globals_, **variables}
        self.act = act
        self.trail: list[tuple[str, str]] = []      # (application, its arguments) of the apps handed to act
        self.hung_up = False

    def sub(self, text: str) -> str:
        for _ in range(20):
            m = re.search(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)
            if m:
                text = text[:m.start()] + self.vars.get(m.group(1), "") + text[m.end():]
                continue
            m = _innermost(text, "${REGEX(")
            if m:                                    # ${REGEX("re" string)}: 1 if it matches
                start, end = m
                fm = re.match(r'^"(.*)"\s+(.*)$', text[start + 8:end])
                found = bool(fm and re.search(fm.group(1), fm.group(2)))
                text = text[:start] + ("1" if found else "0") + text[end + 2:]
                continue
            m = _innermost(text, "$[")
            if m:
                start, end = m
                text = text[:start] + self.expr(text[start + 2:end]) + text[end + 1:]
                continue
            m = _innermost(text, "${IF(")
            if m:
                start, end = m                       # end: the ')' closing IF( ; a '}' follows
                cond, _, rest = text[start + 5:end].partition("?")
                yes, _, no = rest.partition(":")
                text = text[:start] + (yes if _truthy(self.expr(cond)) else no) + text[end + 2:]
                continue
            return text
        raise RuntimeError(f"substitution does not end: {text}")

    def expr(self, text: str) -> str:
        text = text.strip()
        m = re.match(r'^REGEX\("(.*)"\s+(.*)\)$', text)
        if m:
            return "1" if re.search(m.group(1), m.group(2)) else "0"
        for op in (" & ", "!=", "=", ">", "+"):
            if op in text:
                left, right = (part.strip().strip('"') for part in text.split(op, 1))
                if op == " & ":
                    return "1" if _truthy(self.expr(left)) and _truthy(self.expr(right)) else "0"
                if op == "!=":
                    return "1" if left != right else "0"
                if op == "=":
                    return "1" if left == right else "0"
                if op == ">":
                    return "1" if float(left or 0) > float(right or 0) else "0"
                return str(int(float(left or 0) + float(right or 0)))
        return text.strip('"')

    def run(self, context: str, exten: str, priority: int = 1, max_steps: int = 200) -> list[tuple[str, str]]:
        steps = 0
        while not self.hung_up and steps < max_steps:
            steps += 1
            plan = self.contexts.get(context, {}).get(exten)
            if plan is None:
                if exten != "i" and "i" in self.contexts.get(context, {}):
                    context, exten, priority = context, "i", 1
                    continue
                break
            if priority > len(plan):
                break
            _label, app, data = plan[priority - 1]
            args = self.sub(data)
            if app == "GotoIf":
                cond, _, targets = args.partition("?")
                yes, _, no = targets.partition(":")
                target = yes if _truthy(self.expr(cond)) else no
                if target:
                    context, exten, priority = self._goto(context, exten, target)
                    continue
            elif app == "Goto":
                context, exten, priority = self._goto(context, exten, args)
                continue
            elif app == "Set":
                key, _, value = args.partition("=")
                self.vars[key.strip()] = value
            elif app in ("NoOp", "Verbose", "Answer", "MixMonitor", "Wait"):
                pass
            else:
                self.trail.append((app, args))
                self.act(self, app, _split(args))
                if app == "Hangup":
                    self.hung_up = True
            priority += 1
        return self.trail

    def _goto(self, context: str, exten: str, target: str) -> tuple[str, str, int]:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 3:
            context, exten, prio = parts
        elif len(parts) == 2:
            exten, prio = parts
        else:
            prio = parts[0]
        if prio.isdigit():
            return context, exten, int(prio)
        for index, (label, _app, _data) in enumerate(self.contexts[context][exten], start=1):
            if label == prio:
                return context, exten, index
        raise KeyError(f"no label {prio} in {context},{exten}")


def _truthy(value: str) -> bool:
    return value not in ("", "0")


def _split(args: str) -> list[str]:
    return [a.strip() for a in args.split(",")]


def _innermost(text: str, opener: str):
    start = text.rfind(opener)
    if start < 0:
        return None
    depth, i = 0, start + len(opener) - 1
    close = "]" if opener == "$[" else ")"
    openc = "[" if opener == "$[" else "("
    while i < len(text):
        if text[i] == openc:
            depth += 1
        elif text[i] == close:
            depth -= 1
            if depth == 0:
                return start, i
        i += 1
    return None
