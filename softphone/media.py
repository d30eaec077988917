"""Media commands that play or wait for keys: STREAM FILE, CONTROL STREAM FILE, GET DATA,
GET OPTION, WAIT FOR DIGIT and SAY … (reference §3.4–§3.8, §3.16).

A mixin of :class:`softphone.asterisk.AsteriskPeer`. Each handler asks the caller what happened,
applies Asterisk's rules to it, advances the virtual clock and prints the result line.
"""
from __future__ import annotations

import os

from softphone.audio import Sound, find_sound
from softphone.commands import RESULT_FAILURE, RESULT_SHOWUSAGE, RESULT_SUCCESS
from softphone.outcomes import DIGIT, FINISHED, HANGUP, KeysOutcome, PlayOutcome
from softphone.recording import RecordCommands
from softphone.wire import DTMF, atoi, scan_int, scan_long

FOREVER = 1_000_000_000          # what Asterisk uses for "no timeout" in GET DATA
SAY_MS = {"digits": 600, "alpha": 600, "phonetic": 800, "number": 600,
          "date": 2500, "time": 2000, "datetime": 4000}


class MediaCommands(RecordCommands):

    # --- finding and playing sound files ------------------------------------------------------

    def _sound(self, name: str) -> Sound | None:
        """``ast_openstream``: an absolute path, or a name under sounds_dir (language first)."""
        if name.startswith("/"):
            bases = [name]
        elif self.sounds_dir:
            bases = [os.path.join(self.sounds_dir, self.channel.language, name),
                     os.path.join(self.sounds_dir, name)]
        else:
            bases = []
        for base in bases:
            sound = find_sound(base)
            if sound is not None:
                self._music = None            # a file stops music on hold
                return sound
        self.result.missing_files.append(name)
        return None

    def _prompt_outcome(self, out: PlayOutcome, escape: str, duration_ms: int,
                        watch: bool) -> tuple[str, str, int, bool]:
        """Apply Asterisk's rules to a PlayOutcome: (kind, digit, at_ms, socket-interrupted)."""
        kind, digit = out.kind, (out.digit or "")[:1]
        at = duration_ms if out.at_ms is None else max(0, min(int(out.at_ms), duration_ms))
        if kind == DIGIT and (not digit or digit not in DTMF or digit not in escape):
            kind = FINISHED                   # not an escape digit: the prompt plays on
        if kind not in (DIGIT, HANGUP):
            kind, at = FINISHED, duration_ms
        cut = self._autohangup_cut(at)
        if cut is not None and (kind == FINISHED or cut < at):
            kind, at = HANGUP, cut
        if kind == HANGUP:
            self._channel_gone("caller" if cut is None else "autohangup")
        interrupted = self._advance(at, watch=watch)
        return kind, digit, at, interrupted

    # --- STREAM FILE / CONTROL STREAM FILE ------------------------------------------------------

    def h_stream_file(self, argv: list[str]) -> int:
        if not 4 <= len(argv) <= 5:
            return RESULT_SHOWUSAGE
        escape = argv[3]
        offset = 0
        if len(argv) > 4:
            offset = scan_long(argv[4])
            if offset is None:
                return RESULT_SHOWUSAGE
        sound = self._sound(argv[2])
        if sound is None:
            self._send(f"200 result=-1 endpos={offset}")
            return RESULT_FAILURE
        self.result.played.append(argv[2])
        start = max(0, min(offset, sound.samples))
        length = (sound.samples - start) // 8
        out = self.caller.on_play(argv[2], escape, length)
        kind, digit, at, interrupted = self._prompt_outcome(out, escape, length, watch=True)
        if interrupted:
            return RESULT_SUCCESS             # the next command is waiting: nothing is printed
        res = {FINISHED: 0, DIGIT: ord(digit) if digit else 0, HANGUP: -1}[kind]
        pos = sound.samples if kind == FINISHED else start + at * 8
        self._send(f"200 result={res} endpos={pos}")
        self.channel.set_var("PLAYBACKSTATUS", "SUCCESS" if res == 0 else "FAILED")
        return RESULT_SUCCESS if res >= 0 else RESULT_FAILURE

    def h_control_stream_file(self, argv: list[str]) -> int:
        if not 5 <= len(argv) <= 10:
            return RESULT_SHOWUSAGE
        stop = argv[4]
        if len(argv) > 5 and scan_int(argv[5]) is None:
            return RESULT_SHOWUSAGE
        offset_ms = 0
        if len(argv) > 9:
            offset_ms = scan_long(argv[9])
            if offset_ms is None:
                return RESULT_SHOWUSAGE
        sound = self._sound(argv[3])
        if sound is None:
            res, pos = -1, offset_ms
        else:
            self.result.played.append(argv[3])
            start_ms = max(0, min(offset_ms, sound.duration_ms))
            length = sound.duration_ms - start_ms
            out = self.caller.on_play(argv[3], stop, length)
            kind, digit, at, _ = self._prompt_outcome(out, stop, length, watch=False)
            res = {FINISHED: 0, DIGIT: ord(digit) if digit else 0, HANGUP: -1}[kind]
            pos = -1 if kind == FINISHED else start_ms + at
        ch = self.channel
        if res > 0:
            ch.set_var("CPLAYBACKSTATUS", "USERSTOPPED")
            ch.set_var("CPLAYBACKSTOPKEY", chr(res))
        else:
            ch.set_var("CPLAYBACKSTATUS", "ERROR" if res < 0 else "SUCCESS")
        ch.set_var("CPLAYBACKOFFSET", str(pos))
        self._send(f"200 result={res} endpos={pos}")
        return RESULT_SUCCESS if res >= 0 else RESULT_FAILURE

    # --- GET DATA (§3.6) ---------------------------------------------------------------------

    def h_get_data(self, argv: list[str]) -> int:
        if len(argv) < 3:
            return RESULT_SHOWUSAGE
        timeout = atoi(argv[3]) if len(argv) >= 4 else 0
        max_digits = atoi(argv[4]) if len(argv) >= 5 else 1024
        prompt, prompt_ms = argv[2], 0
        if prompt:
            sound = self._sound(prompt)
            if sound is None:
                self._send("200 result=-1")
                return RESULT_SUCCESS
            self.result.played.append(prompt)
            prompt_ms = sound.duration_ms
        if max_digits == 0:
            self._send("200 result=-1")
            return RESULT_SUCCESS
        if timeout > 0:
            first = inter = timeout
        elif timeout < 0:
            first = inter = FOREVER
        else:
            first, inter = 6000, 2000
        keys = self.caller.on_get_data(prompt, timeout, max_digits, prompt_ms)
        status, digits, end, used = self._read_string(keys, prompt_ms, first, inter, max_digits)
        interrupted = self._advance(end, watch=True)
        self._leftover(keys, used, status)
        if interrupted:
            return RESULT_SUCCESS
        if status == HANGUP:
            self._send("200 result=-1")
        elif status == "timeout":
            self._send(f"200 result={digits} (timeout)")
        else:
            self._send(f"200 result={digits}")
        return RESULT_SUCCESS

    def _keys(self, keys: KeysOutcome) -> list[tuple[str, int]]:
        times = list(keys.times_ms)
        out: list[tuple[str, int]] = []
        last = 0
        for i, key in enumerate(keys.keys):
            last = int(times[i]) if i < len(times) else last + 300
            if key in DTMF:
                out.append((key, max(0, last)))
        return out

    def _read_string(self, keys: KeysOutcome, prompt_ms: int, first: int, inter: int,
                     max_digits: int) -> tuple[str, str, int, int]:
        """``ast_app_getdata_full`` + ``ast_readstring_full`` over the caller's key timeline.
        Returns (status, digits, end_ms, keys used); status is complete/empty/timeout/hangup."""
        pressed = self._keys(keys)
        hang = keys.hangup_at_ms
        now, digits, i, wait = 0, "", 0, first
        in_prompt = prompt_ms > 0
        while True:
            t_key = max(pressed[i][1], now) if i < len(pressed) else None
            t_hang = max(int(hang), now) if hang is not None else None
            if in_prompt:                       # any key interrupts the prompt
                if t_hang is not None and t_hang < prompt_ms and (t_key is None or t_hang <= t_key):
                    return self._cut_read(HANGUP, "", t_hang, i)
                if t_key is None or t_key >= prompt_ms:
                    now, in_prompt = prompt_ms, False
                    continue
                now = t_key
            else:
                deadline = now + wait
                if t_hang is not None and t_hang <= deadline and (t_key is None or t_hang <= t_key):
                    return self._cut_read(HANGUP, "", t_hang, i)
                if t_key is None or t_key > deadline:
                    if wait >= FOREVER and t_hang is None:
                        self.result.notes.append("endless wait: the caller gave up and hung up")
                        return self._cut_read(HANGUP, "", now + self.give_up_ms, i)
                    return self._cut_read("timeout", digits, deadline, i)
                now = t_key
            key = pressed[i][0]
            i += 1
            if key == "#" and not digits:
                return self._cut_read("empty", "", now, i)
            if key != "#":
                digits += key
            if key == "#" or len(digits) >= max_digits:
                return self._cut_read("complete", digits, now, i)
            wait = inter

    def _cut_read(self, status: str, digits: str, end: int, used: int) -> tuple[str, str, int, int]:
        cut = self._autohangup_cut(end)
        if cut is not None and (status != HANGUP or cut < end):
            status, digits, end = HANGUP, "", cut
            self._channel_gone("autohangup")
        elif status == HANGUP:
            self._channel_gone("caller")
        return status, digits, end, used

    def _leftover(self, keys: KeysOutcome, used: int, status: str) -> None:
        if status == HANGUP:
            return
        rest = "".join(k for k, _ in self._keys(keys)[used:])
        if rest:
            self.caller.leftover_keys(rest)

    # --- WAIT FOR DIGIT (§3.8) and GET OPTION (§3.7) ---------------------------------------------

    def h_wait_for_digit(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return RESULT_SHOWUSAGE
        timeout = scan_int(argv[3])
        if timeout is None:
            return RESULT_SHOWUSAGE
        if timeout == 0:
            self._send("200 result=0")
            return RESULT_SUCCESS
        keys = self.caller.on_wait_digit(timeout)
        res, end, used = self._wait_digit(keys, FOREVER if timeout < 0 else timeout)
        interrupted = self._advance(end, watch=True)
        self._leftover(keys, used, HANGUP if res < 0 else "")
        self._send("200 result=1" if interrupted else f"200 result={res}")
        return RESULT_SUCCESS if interrupted or res >= 0 else RESULT_FAILURE

    def _wait_digit(self, keys: KeysOutcome, wait: int) -> tuple[int, int, int]:
        """``ast_waitfordigit_full``: (result, end_ms, keys used)."""
        pressed = self._keys(keys)
        t_key = pressed[0][1] if pressed else None
        hang = keys.hangup_at_ms
        if hang is not None and hang <= wait and (t_key is None or hang <= t_key):
            res, end, used = -1, int(hang), 0
        elif t_key is not None and t_key <= wait:
            res, end, used = ord(pressed[0][0]), t_key, 1
        elif wait >= FOREVER:
            self.result.notes.append("endless wait: the caller gave up and hung up")
            res, end, used = -1, self.give_up_ms, 0
        else:
            res, end, used = 0, wait, 0
        cut = self._autohangup_cut(end)
        if cut is not None and (res >= 0 or cut < end):
            res, end, used = -1, cut, 0
            self._channel_gone("autohangup")
        elif res < 0:
            self._channel_gone("caller")
        return res, end, used

    def h_get_option(self, argv: list[str]) -> int:
        if not 4 <= len(argv) <= 5:
            return RESULT_SHOWUSAGE
        escape = argv[3]
        timeout = atoi(argv[4]) if len(argv) == 5 else self.channel.digit_timeout_ms
        sound = self._sound(argv[2])
        if sound is None:
            self._send("200 result=-1 endpos=0")
            return RESULT_FAILURE
        self.result.played.append(argv[2])
        length = sound.duration_ms
        out = self.caller.on_get_option(argv[2], escape, timeout, length)
        during_play = out.kind in (DIGIT, HANGUP) and out.at_ms is not None and out.at_ms < length
        kind, digit, at, interrupted = self._prompt_outcome(
            out if during_play else PlayOutcome(), escape, length, watch=True)
        if interrupted:
            return RESULT_SUCCESS              # socket readable during the prompt: nothing sent
        if kind != FINISHED:
            res = ord(digit) if kind == DIGIT else -1
            self._send(f"200 result={res} endpos={at * 8}")
            return RESULT_SUCCESS if res >= 0 else RESULT_FAILURE
        # the prompt played to its end: wait for a key (any key ends the wait)
        if timeout == 0:
            self._send(f"200 result=0 endpos={sound.samples}")
            return RESULT_SUCCESS
        keys = KeysOutcome()
        if not during_play and out.kind == DIGIT and out.digit:
            keys = KeysOutcome(out.digit[:1], (max(0, (out.at_ms or length) - length),))
        elif not during_play and out.kind == HANGUP:
            keys = KeysOutcome.silent(max(0, (out.at_ms or length) - length))
        res, end, _ = self._wait_digit(keys, FOREVER if timeout < 0 else timeout)
        interrupted = self._advance(end, watch=True)
        if interrupted or res < 0 or chr(res) not in escape:
            res = 0                            # strchr(edigits, res) fails: 0, even on hang-up
        self._send(f"200 result={res} endpos={sound.samples}")
        return RESULT_SUCCESS

    # --- SAY … (§3.16) -----------------------------------------------------------------------

    def _say(self, kind: str, value: str, escape: str, units: int = 1) -> int:
        duration = SAY_MS[kind] * max(1, units)
        self.result.said.append((f"SAY {kind.upper()}", value))
        out = self.caller.on_say(kind, value, escape, duration)
        what, digit, _, _ = self._prompt_outcome(out, escape, duration, watch=False)
        res = {FINISHED: 0, DIGIT: ord(digit) if digit else 0, HANGUP: -1}[what]
        self._send(f"200 result={res}")
        return RESULT_SUCCESS if res >= 0 else RESULT_FAILURE

    def h_say_digits(self, argv: list[str]) -> int:
        if len(argv) != 4 or scan_int(argv[2]) is None:
            return RESULT_SHOWUSAGE
        spoken = sum(1 for c in argv[2] if c in "0123456789*#-")
        return self._say("digits", argv[2], argv[3], spoken)

    def h_say_number(self, argv: list[str]) -> int:
        if not 4 <= len(argv) <= 5:
            return RESULT_SHOWUSAGE
        num = scan_int(argv[2])
        if num is None:
            return RESULT_SHOWUSAGE
        return self._say("number", str(num), argv[3], len(str(abs(num))) + (num < 0))

    def h_say_alpha(self, argv: list[str]) -> int:
        if not 4 <= len(argv) <= 5:
            return RESULT_SHOWUSAGE
        if len(argv) > 4 and argv[4][:1] not in ("", "a", "A", "l", "L", "n", "N", "u", "U"):
            return RESULT_SHOWUSAGE
        return self._say("alpha", argv[2], argv[3], len(argv[2]))

    def h_say_phonetic(self, argv: list[str]) -> int:
        if len(argv) != 4:
            return RESULT_SHOWUSAGE
        return self._say("phonetic", argv[2], argv[3], len(argv[2]))

    def h_say_date(self, argv: list[str]) -> int:
        if len(argv) != 4 or scan_int(argv[2]) is None:
            return RESULT_SHOWUSAGE
        return self._say("date", argv[2], argv[3])

    def h_say_time(self, argv: list[str]) -> int:
        if len(argv) != 4 or scan_int(argv[2]) is None:
            return RESULT_SHOWUSAGE
        return self._say("time", argv[2], argv[3])

    def h_say_datetime(self, argv: list[str]) -> int:
        if len(argv) < 4 or scan_long(argv[2]) is None:
            return RESULT_SHOWUSAGE
        return self._say("datetime", argv[2], argv[3])
