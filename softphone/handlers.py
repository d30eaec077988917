"""Non-media AGI commands: channel control, variables, AstDB, SPEECH, GOSUB and the rest
(reference §3.2, §3.3, §3.10–§3.16). A mixin of :class:`softphone.asterisk.AsteriskPeer`."""
from __future__ import annotations

from softphone.channel import STATE_UP, parse_callerid
from softphone.commands import RESULT_FAILURE, RESULT_SHOWUSAGE, RESULT_SUCCESS
from softphone.wire import atoi, scan_float, scan_int

VALUE_MAX = 1023            # GET VARIABLE reads into a 1024-byte buffer


class ControlCommands:

    # --- channel ------------------------------------------------------------------------------

    def h_answer(self, argv: list[str]) -> int:
        if self.channel.state != STATE_UP:
            self.channel.state = STATE_UP
            self.caller.on_event("answer")
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_hangup(self, argv: list[str]) -> int:
        if len(argv) == 1 or (len(argv) == 2 and argv[1] == self.channel.name):
            self._channel_gone("server")
            self._send("200 result=1")
        elif len(argv) == 2:
            self._send("200 result=-1")       # no channel of that name
        else:
            return RESULT_SHOWUSAGE
        return RESULT_SUCCESS

    def h_channel_status(self, argv: list[str]) -> int:
        if len(argv) == 2 or (len(argv) == 3 and argv[2] == self.channel.name):
            self._send(f"200 result={self.channel.state}")
        elif len(argv) == 3:
            self._send("200 result=-1")
        else:
            return RESULT_SHOWUSAGE
        return RESULT_SUCCESS

    def h_set_context(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self.channel.context = argv[2]
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_set_extension(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self.channel.exten = argv[2]
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_set_priority(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        prio = self._priority(self.channel.context, self.channel.exten, argv[2])
        if prio is None:
            return RESULT_SHOWUSAGE
        self._explicit_goto(None, None, prio)
        self._send("200 result=0")
        return RESULT_SUCCESS

    def _priority(self, context: str, exten: str, text: str) -> int | str | None:
        """A priority number (``%d``) or a label; None for an unknown label (when labels are
        known) — without a label table any label is accepted and kept as text."""
        number = scan_int(text)
        if number is not None:
            return number
        if self.labels is None:
            return text
        found = self.labels.get((context, exten), {}).get(text)
        return found if found is not None and found >= 1 else None

    def _explicit_goto(self, context: str | None, exten: str | None, prio: int | str) -> None:
        """``ast_explicit_goto`` inside the PBX autoloop stores priority-1, so that the PBX's
        ``priority + 1`` after AGI returns lands on ``prio`` (§7.2)."""
        ch = self.channel
        if context:
            ch.context = context
        if exten:
            ch.exten = exten
        ch.priority = prio - 1 if isinstance(prio, int) else prio

    def h_set_music(self, argv: list[str]) -> int:
        if len(argv) < 3:
            return RESULT_SHOWUSAGE
        word = argv[2].lower()
        if word.startswith("on"):
            self._music = argv[3] if len(argv) > 3 else "default"
            self.caller.on_event("music", self._music)
        elif word.startswith("off"):
            self._music = None
            self.caller.on_event("music", "")
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_set_autohangup(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        seconds = scan_float(argv[2])
        if seconds is None:
            return RESULT_SHOWUSAGE
        if seconds != seconds or seconds <= 0:       # NaN, 0 or negative: disabled
            self._autohangup_at = None
        else:
            self._autohangup_at = self.elapsed_ms + int(min(seconds, 1e9) * 1000)
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_set_callerid(self, argv: list[str]) -> int:
        if len(argv) > 2:
            name, number = parse_callerid(argv[2][:255])
            number = "".join(c for c in number if c not in " -().")
            self.channel.callerid, self.channel.calleridname = number, name
        self._send("200 result=1")
        return RESULT_SUCCESS

    # --- variables ----------------------------------------------------------------------------

    def h_set_variable(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return RESULT_SHOWUSAGE
        self.channel.set_var(argv[2], argv[3])
        self.caller.on_event("variable", f"{argv[2]}={argv[3]}")
        self._send("200 result=1")
        return RESULT_SUCCESS

    def h_get_variable(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        name = argv[2]
        if name.endswith(")"):
            value = self.channel.read_function(name)
        else:
            value = self.channel.retrieve(name)
        if value is None:
            self._send("200 result=0")
        else:
            self._send(f"200 result=1 ({_truncate(value, VALUE_MAX)})")
        return RESULT_SUCCESS

    def h_get_full_variable(self, argv: list[str]) -> int:
        if len(argv) not in (4, 5):
            return RESULT_SHOWUSAGE
        if len(argv) == 5 and argv[4] != self.channel.name:
            self._send("200 result=0")
        else:
            self._send(f"200 result=1 ({self.channel.substitute(argv[3])})")
        return RESULT_SUCCESS

    # --- AstDB (§3.14) ------------------------------------------------------------------------

    def h_database_get(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return RESULT_SHOWUSAGE
        value = self.channel.astdb.get(argv[2], argv[3])
        self._send("200 result=0" if value is None else f"200 result=1 ({value})")
        return RESULT_SUCCESS

    def h_database_put(self, argv: list[str]) -> int:
        if len(argv) != 5:
            return RESULT_SHOWUSAGE
        ok = self.channel.astdb.put(argv[2], argv[3], argv[4])
        self._send(f"200 result={1 if ok else 0}")
        return RESULT_SUCCESS

    def h_database_del(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return RESULT_SHOWUSAGE
        ok = self.channel.astdb.delete(argv[2], argv[3])
        self._send(f"200 result={1 if ok else 0}")
        return RESULT_SUCCESS

    def h_database_deltree(self, argv: list[str]) -> int:
        if not 3 <= len(argv) <= 4:
            return RESULT_SHOWUSAGE
        deleted = self.channel.astdb.deltree(argv[2], argv[3] if len(argv) == 4 else None)
        self._send(f"200 result={'0' if deleted > 0 else '1'}")      # inverted, as in Asterisk
        return RESULT_SUCCESS

    # --- small commands -----------------------------------------------------------------------

    def h_noop(self, argv: list[str]) -> int:
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_asyncagi_break(self, argv: list[str]) -> int:
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_verbose(self, argv: list[str]) -> int:
        if len(argv) < 2:
            return RESULT_SHOWUSAGE
        self.result.verbose.append(argv[1])
        self.caller.on_event("verbose", argv[1])
        self._send("200 result=1")
        return RESULT_SUCCESS

    def h_receive_char(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self._advance(max(0, atoi(argv[2])))   # PJSIP delivers no text: wait, then time out
        self._send("200 result=0 (timeout)")
        return RESULT_SUCCESS

    def h_receive_text(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self._advance(max(0, atoi(argv[2])))
        self._send("200 result=-1")
        return RESULT_SUCCESS

    def h_send_text(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_send_image(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_tdd_mode(self, argv: list[str]) -> int:
        if len(argv) != 3:
            return RESULT_SHOWUSAGE
        self._send("200 result=0")               # a PJSIP channel is not TDD-capable
        return RESULT_SUCCESS

    # --- SPEECH: no speech engine is loaded, so there is never a speech object (§3.15) ----------

    def h_speech_create(self, argv: list[str]) -> int:
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_speech_set(self, argv: list[str]) -> int:
        return self._speech_fixed(argv, 4)

    def h_speech_destroy(self, argv: list[str]) -> int:
        self._send("200 result=0")
        return RESULT_SUCCESS

    def h_speech_load_grammar(self, argv: list[str]) -> int:
        return self._speech_fixed(argv, 5)

    def h_speech_unload_grammar(self, argv: list[str]) -> int:
        return self._speech_fixed(argv, 4)

    def h_speech_activate_grammar(self, argv: list[str]) -> int:
        return self._speech_fixed(argv, 4)

    def h_speech_deactivate_grammar(self, argv: list[str]) -> int:
        return self._speech_fixed(argv, 4)

    def h_speech_recognize(self, argv: list[str]) -> int:
        if len(argv) < 4:
            return RESULT_SHOWUSAGE
        self._send("200 result=0")
        return RESULT_SUCCESS

    def _speech_fixed(self, argv: list[str], argc: int) -> int:
        if len(argv) != argc:
            return RESULT_SHOWUSAGE
        self._send("200 result=0")
        return RESULT_SUCCESS

    # --- GOSUB (app_stack.c) -----------------------------------------------------------------

    def h_gosub(self, argv: list[str]) -> int:
        if not 4 <= len(argv) <= 5:
            return RESULT_SHOWUSAGE
        # The label/extension check comes before "100 Trying": an unknown target gets only the
        # 200 line. The fake has no dialplan beyond the `subroutines` it was given.
        if (argv[1], argv[2]) not in self.subroutines:
            self._send("200 result=-1 Gosub label not found")
            return RESULT_FAILURE
        self._send("100 result=0 Trying...")
        self.result.apps.append(("Gosub", ",".join(argv[1:4]) + (f"({argv[4]})" if len(argv) == 5 else "")))
        self._send("200 result=0 Gosub complete")
        return RESULT_SUCCESS


def _truncate(value: str, limit: int) -> str:
    data = value.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return value
    return data[:limit].decode("utf-8", "surrogateescape")
