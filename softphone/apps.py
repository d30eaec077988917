"""EXEC and the dialplan applications the fake knows (reference §3.10, §7.2–§7.5).

``EXEC app [options]`` passes only ``argv[2]`` to the application and prints its return value;
that value is also the handler's result (1 adds a 520 block, 2 counts as FAILURE). An unknown
application gives ``200 result=-2``. The caller may decide any application's outcome through
:meth:`Caller.on_exec` (e.g. Queue or Dial); otherwise the defaults below apply.
"""
from __future__ import annotations

from softphone.channel import STATE_UP, ast_true
from softphone.commands import RESULT_SHOWUSAGE
from softphone.outcomes import HANGUP
from softphone.wire import atoi, scan_float, separate_app_args

# Applications that need a live channel (they return -1 on a hung-up one).
MEDIA_APPS = {"answer", "background", "dial", "playback", "progress", "queue", "read", "record",
              "ringing", "saydigits", "saynumber", "sayalpha", "wait", "musiconhold",
              "startmusiconhold", "stopmusiconhold", "echo", "milliwatt", "voicemail"}
KNOWN_APPS = MEDIA_APPS | {"goto", "set", "mset", "noop", "verbose", "log", "hangup",
                           "mixmonitor", "stopmixmonitor", "userevent", "gosub", "return",
                           "agi", "system", "congestion", "busy"}


class AppCommands:

    def h_exec(self, argv: list[str]) -> int:
        if len(argv) < 2:
            return RESULT_SHOWUSAGE
        app = argv[1]
        options = argv[2] if len(argv) > 2 else ""
        if ast_true(self.channel.variables.get("AGIEXECFULL")) and len(argv) > 2:
            options = self.channel.substitute(options)
        self.result.apps.append((app, options))
        self.caller.on_event("exec", f"{app}({options})")
        res = self._run_app(app, options)
        self._send(f"200 result={res}")
        return res

    def _run_app(self, app: str, options: str) -> int:
        name = app.lower()
        dead = self.channel.hungup
        if not dead:
            decided = self.caller.on_exec(app, options)
            if decided is not None:
                for key, value in decided.variables.items():
                    self.channel.set_var(key, value)
                cut = self._autohangup_cut(decided.duration_ms)
                self._advance(decided.duration_ms if cut is None else cut)
                if decided.hangup or cut is not None:
                    self._channel_gone("caller" if cut is None else "autohangup")
                    return -1 if cut is not None else decided.result
                return decided.result
        if name not in KNOWN_APPS:
            return -2
        if dead and name in MEDIA_APPS:
            return -1
        handler = getattr(self, f"app_{name}", None)
        if handler is None:
            return 0
        return handler(separate_app_args(options))

    # --- control ------------------------------------------------------------------------------

    def app_goto(self, args: list[str]) -> int:
        ch = self.channel
        if not args or not args[-1]:
            return -1
        if len(args) >= 3:
            context, exten, prio = args[0], args[1], args[2]
        elif len(args) == 2:
            context, exten, prio = None, args[0], args[1]
        else:
            context, exten, prio = None, None, args[0]
        number = self._priority(context or ch.context, exten or ch.exten, prio)
        if number is None:
            return -1
        self._explicit_goto(context, exten, number)
        return 0

    def app_set(self, args: list[str]) -> int:
        if args:
            name, _, value = ",".join(args).partition("=")
            self.channel.set_var(name.strip(), value)
        return 0

    def app_mset(self, args: list[str]) -> int:
        for item in args:
            name, _, value = item.partition("=")
            self.channel.set_var(name.strip(), value)
        return 0

    def app_hangup(self, args: list[str]) -> int:
        self._channel_gone("server")
        return -1

    def app_answer(self, args: list[str]) -> int:
        if self.channel.state != STATE_UP:
            self.channel.state = STATE_UP
            self.caller.on_event("answer")
        return 0

    def app_mixmonitor(self, args: list[str]) -> int:
        if args:
            self.channel.set_var("MIXMONITOR_FILENAME", args[0])
        return 0

    def app_musiconhold(self, args: list[str]) -> int:
        self._music = args[0] if args and args[0] else "default"
        self.caller.on_event("music", self._music)
        seconds = atoi(args[1]) if len(args) > 1 else 0
        if seconds > 0:
            return self._wait_app(seconds * 1000)
        self._music = None                        # without a duration it runs until hang-up
        return self._wait_app(self.give_up_ms, until_hangup=True)

    def app_startmusiconhold(self, args: list[str]) -> int:
        self._music = args[0] if args and args[0] else "default"
        self.caller.on_event("music", self._music)
        return 0

    def app_stopmusiconhold(self, args: list[str]) -> int:
        self._music = None
        self.caller.on_event("music", "")
        return 0

    # --- media ------------------------------------------------------------------------------

    def app_playback(self, args: list[str]) -> int:
        if not args:
            return 0
        if "noanswer" not in (args[1] if len(args) > 1 else ""):
            self.app_answer([])
        failed = False
        for name in args[0].split("&"):
            sound = self._sound(name)
            if sound is None:
                failed = True                      # "Playback failed": 0, PLAYBACKSTATUS=FAILED
                continue
            self.result.played.append(name)
            out = self.caller.on_play(name, "", sound.duration_ms)
            kind, _, _, _ = self._prompt_outcome(out, "", sound.duration_ms, watch=False)
            if kind == HANGUP:
                self.channel.set_var("PLAYBACKSTATUS", "FAILED")
                return -1
        self.channel.set_var("PLAYBACKSTATUS", "FAILED" if failed else "SUCCESS")
        return 0

    app_background = app_playback

    def app_wait(self, args: list[str]) -> int:
        seconds = scan_float(args[0]) if args else 0.0
        return self._wait_app(int((seconds or 0.0) * 1000))

    def _wait_app(self, ms: int, until_hangup: bool = False) -> int:
        """Time passes (Wait, Dial ringing, Queue waiting, endless music on hold)."""
        cut = self._autohangup_cut(ms)
        if cut is not None:
            self._advance(cut)
            self._channel_gone("autohangup")
            return -1
        self._advance(ms)
        if until_hangup:
            self._channel_gone("caller")
            return -1
        return 0

    def app_saydigits(self, args: list[str]) -> int:
        return self._say_app("digits", args[0] if args else "")

    def app_saynumber(self, args: list[str]) -> int:
        return self._say_app("number", args[0] if args else "")

    def app_sayalpha(self, args: list[str]) -> int:
        return self._say_app("alpha", args[0] if args else "")

    def _say_app(self, kind: str, value: str) -> int:
        from softphone.media import SAY_MS
        duration = SAY_MS[kind] * max(1, len(value))
        self.result.said.append((f"EXEC Say{kind.title()}", value))
        out = self.caller.on_say(kind, value, "", duration)
        what, _, _, _ = self._prompt_outcome(out, "", duration, watch=False)
        return -1 if what == HANGUP else 0

    def app_read(self, args: list[str]) -> int:
        """Read(var,filenames,maxdigits,options,attempts,timeout_s)."""
        var = args[0] if args else ""
        prompt = args[1] if len(args) > 1 else ""
        max_digits = atoi(args[2]) if len(args) > 2 else 0
        timeout_ms = int(float(args[5]) * 1000) if len(args) > 5 and args[5] else 0
        prompt_ms = 0
        if prompt:
            sound = self._sound(prompt.split("&")[0])
            if sound is not None:
                self.result.played.append(prompt)
                prompt_ms = sound.duration_ms
        keys = self.caller.on_get_data(prompt, timeout_ms, max_digits or 255, prompt_ms)
        first = timeout_ms if timeout_ms > 0 else 5000
        status, digits, end, used = self._read_string(keys, prompt_ms, first, first,
                                                      max_digits or 255)
        self._advance(end)
        self._leftover(keys, used, status)
        if status == HANGUP:
            self.channel.set_var("READSTATUS", "HANGUP")
            return -1
        self.channel.set_var(var, digits)
        self.channel.set_var("READSTATUS", "TIMEOUT" if status == "timeout" and not digits else "OK")
        return 0

    def app_record(self, args: list[str]) -> int:
        """Record(filename.format,silence,maxduration,options): sets RECORD_STATUS."""
        target = args[0] if args else ""
        base, _, fmt = target.rpartition(".")
        silence_s = atoi(args[1]) if len(args) > 1 else 0
        max_ms = atoi(args[2]) * 1000 if len(args) > 2 and atoi(args[2]) > 0 else -1
        line = ["RECORD", "FILE", base, fmt, "#", str(max_ms)]
        if silence_s > 0:
            line.append(f"s={silence_s}")
        res = self._record_quietly(line)
        statuses = {"dtmf": "DTMF", "timeout": "TIMEOUT", "hangup": "HANGUP", "writefile": "ERROR"}
        status = next((v for k, v in statuses.items() if f"({k})" in res), "ERROR")
        if status == "TIMEOUT" and silence_s > 0:
            status = "SILENCE"
        self.channel.set_var("RECORD_STATUS", status)
        return -1 if status == "HANGUP" else 0

    def _record_quietly(self, argv: list[str]) -> str:
        """Run the RECORD FILE logic without printing its line; return that line."""
        captured: list[str] = []
        real_send = self._send
        self._send = captured.append          # type: ignore[method-assign]
        try:
            self.h_record_file(argv)
        finally:
            self._send = real_send            # type: ignore[method-assign]
        return captured[-1] if captured else ""

    # --- calls to people: decided by the caller, or these defaults --------------------------

    def app_dial(self, args: list[str]) -> int:
        seconds = atoi(args[1]) if len(args) > 1 and atoi(args[1]) > 0 else 30
        self.channel.set_var("DIALSTATUS", "NOANSWER")
        return self._wait_app(seconds * 1000)

    def app_queue(self, args: list[str]) -> int:
        seconds = atoi(args[4]) if len(args) > 4 and atoi(args[4]) > 0 else 30
        res = self._wait_app(seconds * 1000)
        if res == 0:
            self.channel.set_var("QUEUESTATUS", "TIMEOUT")
        else:
            self.channel.set_var("ABANDONED", "TRUE")
        return res

