"""The AGI command table: command words, dead-channel permission and usage text (§2.4, §2.6, §3.1).

Handlers live in :mod:`softphone.handlers`; this module only says which words reach which handler.
The usage text is what the ``520-`` block prints: the XML ``<description>`` paragraphs, one line
each, with inline tags left raw (§2.2). Only the first and last lines of that block are exact in
a real Asterisk; the body here is close to the XML but not guaranteed byte-identical (§10).
"""
from __future__ import annotations

from dataclasses import dataclass

RESULT_SUCCESS = 0
RESULT_SHOWUSAGE = 1
RESULT_FAILURE = 2
ASYNC_AGI_BREAK = 3

MSG_510 = "510 Invalid or unknown command"
MSG_511 = "511 Command Not Permitted on a dead channel or intercept routine"
MSG_520_HEAD = "520-Invalid command syntax.  Proper usage follows:"
MSG_520_TAIL = "520 End of proper usage."
MSG_520_NONE = "520 Invalid command syntax.  Proper usage not available."


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: str           # method name on the session
    dead: bool             # allowed after hang-up (§2.6)
    usage: str             # paragraphs, each ending in "\n"


def _u(*paras: str) -> str:
    return "".join(p + "\n" for p in paras)


_L = "<literal>"
_E = "</literal>"

COMMANDS: tuple[Command, ...] = (
    Command(("answer",), "answer", False, _u(
        f"Answers channel if not already in answer state. Returns {_L}-1{_E} on channel failure, "
        f"or {_L}0{_E} if successful.")),
    Command(("asyncagi", "break"), "asyncagi_break", True, _u(
        "Interrupts expected flow of Async AGI commands and returns control to previous source "
        "(typically, the PBX dialplan).")),
    Command(("channel", "status"), "channel_status", False, _u(
        "Returns the status of the specified <replaceable>channelname</replaceable>. If no channel "
        "name is given then returns the status of the current channel.",
        "Return values:")),
    Command(("database", "del"), "database_del", True, _u(
        "Deletes an entry in the Asterisk database for a given <replaceable>family</replaceable> "
        "and <replaceable>key</replaceable>.",
        f"Returns {_L}1{_E} if successful, {_L}0{_E} otherwise.")),
    Command(("database", "deltree"), "database_deltree", True, _u(
        "Deletes a <replaceable>family</replaceable> or specific <replaceable>keytree</replaceable> "
        "within a <replaceable>family</replaceable> in the Asterisk database.",
        f"Returns {_L}1{_E} if successful, {_L}0{_E} otherwise.")),
    Command(("database", "get"), "database_get", True, _u(
        "Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable> "
        "and <replaceable>key</replaceable>.",
        f"Returns {_L}0{_E} if <replaceable>key</replaceable> is not set. Returns {_L}1{_E} if "
        "<replaceable>key</replaceable> is set and returns the variable in parenthesis.",
        "Example return code: 200 result=1 (testvariable)")),
    Command(("database", "put"), "database_put", True, _u(
        "Adds or updates an entry in the Asterisk database for a given "
        "<replaceable>family</replaceable>, <replaceable>key</replaceable>, and "
        "<replaceable>value</replaceable>.",
        f"Returns {_L}1{_E} if successful, {_L}0{_E} otherwise.")),
    Command(("exec",), "exec", True, _u(
        "Executes <replaceable>application</replaceable> with given "
        "<replaceable>options</replaceable>.",
        f"Returns whatever the <replaceable>application</replaceable> returns, or {_L}-2{_E} on "
        "failure to find <replaceable>application</replaceable>.")),
    Command(("get", "data"), "get_data", False, _u(
        "Stream the given <replaceable>file</replaceable>, and receive DTMF data.",
        "Returns the digits received from the channel at the other end.")),
    Command(("get", "full", "variable"), "get_full_variable", True, _u(
        f"Evaluates the given <replaceable>expression</replaceable> against the channel specified "
        f"by <replaceable>variablename</replaceable>, or the current channel if channelname is not "
        f"provided. Returns {_L}0{_E} if no channel is found, or {_L}1{_E} and the result in "
        "parenthesis. Understands complex variable names and builtin variables, unlike GET "
        "VARIABLE.")),
    Command(("get", "option"), "get_option", False, _u(
        "Behaves similar to STREAM FILE but used with a timeout option.")),
    Command(("get", "variable"), "get_variable", True, _u(
        f"Returns {_L}0{_E} if <replaceable>variablename</replaceable> is not set. Returns "
        f"{_L}1{_E} if <replaceable>variablename</replaceable> is set and returns the variable in "
        "parentheses.",
        "Example return code: 200 result=1 (testvariable)")),
    Command(("hangup",), "hangup", False, _u(
        "Hangs up the specified channel. If no channel name is given, hangs up the current "
        "channel")),
    Command(("noop",), "noop", True, _u("Does nothing.")),
    Command(("receive", "char"), "receive_char", False, _u(
        "Receives a character of text on a channel. Most channels do not support the reception of "
        "text. Returns the decimal value of the character if one is received, or "
        f"{_L}0{_E} if the channel does not support text reception. Returns {_L}-1{_E} only on "
        "error/hangup.")),
    Command(("receive", "text"), "receive_text", False, _u(
        "Receives a string of text on a channel. Most channels do not support the reception of "
        f"text. Returns {_L}-1{_E} for failure or {_L}1{_E} for success, and the string in "
        "parenthesis.")),
    Command(("record", "file"), "record_file", False, _u(
        "Record to a file until a given dtmf digit in the sequence is received. Returns "
        f"{_L}-1{_E} on hangup or error.  The format will specify what kind of file will be "
        "recorded. The <replaceable>timeout</replaceable> is the maximum record time in "
        f"milliseconds, or {_L}-1{_E} for no <replaceable>timeout</replaceable>. "
        "<replaceable>offset samples</replaceable> is optional, and, if provided, will seek to "
        "the offset without exceeding the end of the file. <replaceable>beep</replaceable> can "
        "take any value, and causes Asterisk to play a beep to the channel that is about to be "
        "recorded. <replaceable>silence</replaceable> is the number of seconds of silence "
        "allowed before the function returns despite the lack of dtmf digits or reaching "
        "<replaceable>timeout</replaceable>. <replaceable>silence</replaceable> value must be "
        "preceded by <literal>s=</literal> and is also optional.")),
    Command(("say", "alpha"), "say_alpha", False, _u(
        "Say a given character string, returning early if any of the given DTMF digits are "
        f"received on the channel. Returns {_L}0{_E} if playback completes without a digit being "
        "pressed, or the ASCII numerical value of the digit if one was pressed or "
        f"{_L}-1{_E} on error/hangup.")),
    Command(("say", "digits"), "say_digits", False, _u(
        "Say a given digit string, returning early if any of the given DTMF digits are received "
        f"on the channel. Returns {_L}0{_E} if playback completes without a digit being pressed, "
        f"or the ASCII numerical value of the digit if one was pressed or {_L}-1{_E} on "
        "error/hangup.")),
    Command(("say", "number"), "say_number", False, _u(
        "Say a given number, returning early if any of the given DTMF digits are received on the "
        f"channel.  Returns {_L}0{_E} if playback completes without a digit being pressed, or the "
        f"ASCII numerical value of the digit if one was pressed or {_L}-1{_E} on error/hangup.")),
    Command(("say", "phonetic"), "say_phonetic", False, _u(
        "Say a given character string with phonetics, returning early if any of the given DTMF "
        f"digits are received on the channel. Returns {_L}0{_E} if playback completes without a "
        "digit pressed, the ASCII numerical value of the digit if one was pressed, or "
        f"{_L}-1{_E} on error/hangup.")),
    Command(("say", "date"), "say_date", False, _u(
        "Say a given date, returning early if any of the given DTMF digits are received on the "
        "channel. Returns <literal>0</literal> if playback completes without a digit being "
        "pressed, or the ASCII numerical value of the digit if one was pressed or "
        f"{_L}-1{_E} on error/hangup.")),
    Command(("say", "time"), "say_time", False, _u(
        "Say a given time, returning early if any of the given DTMF digits are received on the "
        f"channel. Returns {_L}0{_E} if playback completes without a digit being pressed, or the "
        f"ASCII numerical value of the digit if one was pressed or {_L}-1{_E} on error/hangup.")),
    Command(("say", "datetime"), "say_datetime", False, _u(
        "Say a given time, returning early if any of the given DTMF digits are received on the "
        f"channel. Returns {_L}0{_E} if playback completes without a digit being pressed, or the "
        f"ASCII numerical value of the digit if one was pressed or {_L}-1{_E} on error/hangup.")),
    Command(("send", "image"), "send_image", False, _u(
        "Sends the given image on a channel. Most channels do not support the transmission of "
        f"images. Returns {_L}0{_E} if image is sent, or if the channel does not support image "
        f"transmission.  Returns {_L}-1{_E} only on error/hangup. Image names should not include "
        "extensions.")),
    Command(("send", "text"), "send_text", False, _u(
        "Sends the given text on a channel. Most channels do not support the transmission of "
        f"text. Returns {_L}0{_E} if text is sent, or if the channel does not support text "
        f"transmission. Returns {_L}-1{_E} only on error/hangup.")),
    Command(("set", "autohangup"), "set_autohangup", False, _u(
        "Cause the channel to automatically hangup at <replaceable>time</replaceable> seconds in "
        "the future. Of course it can be hungup before then as well. Setting to "
        f"{_L}0{_E} will cause the autohangup feature to be disabled on this channel.")),
    Command(("set", "callerid"), "set_callerid", False, _u(
        "Changes the callerid of the current channel.")),
    Command(("set", "context"), "set_context", False, _u(
        "Sets the context for continuation upon exiting the application.")),
    Command(("set", "extension"), "set_extension", False, _u(
        "Changes the extension for continuation upon exiting the application.")),
    Command(("set", "music"), "set_music", False, _u(
        "Enables/Disables the music on hold generator. If <replaceable>class</replaceable> is not "
        f"specified, then the {_L}default{_E} music on hold class will be used. This generator "
        f"will be stopped automatically when playing a file.",
        f"Always returns {_L}0{_E}.")),
    Command(("set", "priority"), "set_priority", False, _u(
        "Changes the priority for continuation upon exiting the application. The priority must be "
        "a valid priority or label.")),
    Command(("set", "variable"), "set_variable", True, _u("Sets a variable to the current channel.")),
    Command(("stream", "file"), "stream_file", False, _u(
        "Send the given file, allowing playback to be interrupted by the given digits, if any. "
        f"Returns {_L}0{_E} if playback completes without a digit being pressed, or the ASCII "
        f"numerical value of the digit if one was pressed, or {_L}-1{_E} on error or if the "
        "channel was disconnected. If musiconhold is playing before calling stream file it will "
        "be automatically stopped and will not be restarted after completion.",
        "It sets the following channel variables upon completion:")),
    Command(("control", "stream", "file"), "control_stream_file", False, _u(
        "Send the given file, allowing playback to be controlled by the given digits, if any. Use "
        f"double quotes for the digits if you wish none to be permitted. If offsetms is provided "
        f"then playback will start at offsetms into the file. Returns {_L}0{_E} if playback "
        "completes without a digit being pressed, or the ASCII numerical value of the digit if "
        f"one was pressed, or {_L}-1{_E} on error or if the channel was disconnected.",
        "It sets the following channel variables upon completion:")),
    Command(("tdd", "mode"), "tdd_mode", False, _u("Enable/Disable TDD transmission/reception on a channel. "
        f"Returns {_L}1{_E} if successful, or {_L}0{_E} if channel is not TDD-capable.")),
    Command(("verbose",), "verbose", True, _u(
        "Sends <replaceable>message</replaceable> to the console via verbose message system. "
        "<replaceable>level</replaceable> is the verbose level (1-4). Always returns "
        f"{_L}1{_E}")),
    Command(("wait", "for", "digit"), "wait_for_digit", False, _u(
        "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a "
        f"DTMF digit. Returns {_L}-1{_E} on channel failure, {_L}0{_E} if no digit is received "
        "in the timeout, or the numerical value of the ascii of the digit if one is received. "
        f"Use {_L}-1{_E} for the <replaceable>timeout</replaceable> value if you desire the call "
        "to block indefinitely.")),
    Command(("speech", "create"), "speech_create", False, _u(
        "Create a speech object to be used by the other Speech AGI commands.")),
    Command(("speech", "set"), "speech_set", False, _u(
        "Set an engine-specific setting.")),
    Command(("speech", "destroy"), "speech_destroy", True, _u(
        "Destroy the speech object created by <literal>SPEECH CREATE</literal>.")),
    Command(("speech", "load", "grammar"), "speech_load_grammar", False, _u(
        "Loads the specified grammar as the specified name.")),
    Command(("speech", "unload", "grammar"), "speech_unload_grammar", True, _u(
        "Unloads the specified grammar.")),
    Command(("speech", "activate", "grammar"), "speech_activate_grammar", False, _u(
        "Activates the specified grammar on the speech object.")),
    Command(("speech", "deactivate", "grammar"), "speech_deactivate_grammar", False, _u(
        "Deactivates the specified grammar on the speech object.")),
    Command(("speech", "recognize"), "speech_recognize", False, _u(
        "Plays back given <replaceable>prompt</replaceable> while listening for speech and dtmf.")),
    Command(("gosub",), "gosub", False, _u(
        "Cause the channel to execute the specified dialplan subroutine, returning to the "
        "dialplan with execution of a Return().")),
)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def ascii_lower(word: str) -> str:
    """``strcasecmp`` folds ASCII letters only."""
    return word.translate(_ASCII_LOWER)


def find_command(argv: list[str]) -> Command | None:
    """res_agi.c ``find_command(argv, 0)``: every registered word must match, case-insensitively;
    words after it are the handler's arguments; fewer words than the command do not match."""
    lowered = [ascii_lower(w) for w in argv]
    for cmd in COMMANDS:
        if len(lowered) < len(cmd.words):
            continue
        if tuple(lowered[:len(cmd.words)]) == cmd.words:
            return cmd
    return None
