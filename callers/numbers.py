"""Chinese phone numbers: one canonical key for every way a number arrives or is typed.

Caller IDs come from Asterisk (``CALLERID(num)``, sometimes a SIP/tel URI) and from
Twilio (``From``); admins type numbers into the CLI and the web pages to search and
to block.  Whatever the format, one number must give one ``PhoneNumber.key``:

* ``normalize(raw)``   -- lenient, for caller IDs from the network; a withheld caller
  is a normal ``PhoneNumber`` of kind ``'withheld'``.
* ``parse_typed(text)`` -- strict, for what a person types; anything that is not a
  usable phone number (a withheld marker included) raises ``InvalidNumber``.

Sources for the numbering rules (each rule below names the one it follows):

[CN-PLAN]  MIIT, 《电信网编号计划（2017年版）》 (Telecommunications Network Numbering
           Plan of China), summarised in Wikipedia, "Telephone numbers in China"
           (https://en.wikipedia.org/wiki/Telephone_numbers_in_China): country code
           86, international prefix 00, trunk prefix 0; mobiles 11 digits 1xx-xxxx-xxxx
           (13x ... 19x); area codes 10 and 2X with 8-digit local numbers, 3-digit area
           codes with 7- or 8-digit local numbers; the 0 is never dialled from abroad;
           a landline dials 0 before an out-of-area mobile; 1XX special services,
           100XX carrier service, 12XXX public-interest service, 95XXX(X) national and
           96XXX(X) local service numbers, 400/800 ten-digit freephone/shared-cost.
[12345]    国务院办公厅《关于进一步优化地方政务服务便民热线的指导意见》(国办发〔2020〕53号):
           12345 is the single government-service hotline number.
[E164]     ITU-T Rec. E.164: country codes start 1-9, at most 15 digits in all.
[RFC3966]  tel URI: ``tel:+86-138-0013-8000;phone-context=...`` (visual separators, params).
[RFC3261]  SIP URI: ``sip:user;user-params@host:port;uri-params``.
[RFC3323]  SIP privacy: a withheld caller is ``sip:anonymous@anonymous.invalid``.
[TWILIO]   Twilio changelog 2022-11-16 "Upcoming changes to withheld caller ID behavior
           for <Dial> calls": withheld callers arrive as ANONYMOUS, RESTRICTED, ...,
           formerly translated to keypad digits (+266696687 = ANONYMOUS, +7378742833 =
           RESTRICTED, +2562533 = BLOCKED, +8656696 = UNKNOWN, +86282452253 = UNAVAILABLE).
[ASTERISK] Asterisk presents ``unknown`` (or an empty number) when the network gave no
           valid calling number.
[BRIEF]    Decisions of this project (the brief or this module), not numbering-plan facts.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["InvalidNumber", "PhoneNumber", "normalize", "parse_typed", "KINDS"]

KINDS = frozenset({"mobile", "landline", "service", "international", "withheld"})
_BLOCKABLE_KINDS = frozenset({"mobile", "landline", "international"})

# [BRIEF] A phone number written any sensible way fits in 40 characters; longer text is
# rejected before it is looked at further.  A SIP URI carries a host name as well
# (Twilio SIP domains alone are ~30 characters), so a URI may be longer, but its number
# part is held to the same 40.
MAX_NUMBER_CHARS = 40
MAX_URI_CHARS = 128
_QUOTE_CHARS = 40

_WITHHELD_MESSAGE = "withheld or anonymous numbers cannot be blocked or looked up by number"


class InvalidNumber(ValueError):
    """The text is not a usable phone number.

    ``str(exc)`` is one English sentence that quotes the input with ``repr`` (cut to 40
    characters), so it is safe to log or show.  ``exc.reason`` is a short code for
    callers that want their own wording (e.g. Chinese in the web pages).
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, repr=False)
class PhoneNumber:
    """One phone number in canonical form.

    Two PhoneNumbers are equal when they are the same number (``raw`` is not compared),
    and ``repr``/``str`` show only the masked form, so logging one leaks no personal data.
    """

    raw: str = field(compare=False)
    kind: str
    key: str
    area_code: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown phone number kind {self.kind!r}")

    @property
    def blockable(self) -> bool:
        return self.kind in _BLOCKABLE_KINDS

    @property
    def withheld(self) -> bool:
        return self.kind == "withheld"

    @property
    def masked(self) -> str:
        """The number with its middle hidden, for logs and screens."""
        key = self.key
        if self.kind == "withheld":
            return "withheld"
        if self.kind == "service":
            return key
        if self.kind == "mobile":
            return f"{key[:3]}****{key[-4:]}"
        if self.kind == "landline":
            area = self.area_code or ""
            local = key[len(area):]
            keep = max(len(local) - 4, 0)  # 7-digit local: last 3 shown, 8-digit: last 4
            return f"{area}****{local[-keep:] if keep else ''}"
        # international: '+' and the first two digits, then the tail
        tail = 3 if len(key) >= 11 else 2
        return f"{key[:3]}****{key[-tail:]}"

    @property
    def e164(self) -> str | None:
        if self.kind == "mobile":
            return "+86" + self.key
        if self.kind == "landline":
            # [CN-PLAN] the trunk 0 is dropped after +86; a local number without its
            # area code has no international form.
            return "+86" + self.key[1:] if self.area_code else None
        if self.kind == "international":
            return self.key
        return None

    def __repr__(self) -> str:
        return f"PhoneNumber(kind={self.kind!r}, masked={self.masked!r})"


def normalize(raw: str | None, *, default_area_code: str | None = None) -> PhoneNumber:
    """Lenient: for caller IDs from the network.

    Never raises for withheld forms (None, '', 'anonymous', Twilio's +266696687, ...);
    raises InvalidNumber for garbage.  A bare 7-8 digit local number gets
    ``default_area_code`` when given, else is kept as a landline without area code.
    """
    return _parse(raw, default_area_code=default_area_code, strict=False)


def parse_typed(text: str, *, default_area_code: str | None = None) -> PhoneNumber:
    """Strict: for numbers an admin types (CLI, web).

    Withheld words are an error here, as is a local number with no area code to give
    it; anything that is not a phone number raises InvalidNumber.
    """
    return _parse(text, default_area_code=default_area_code, strict=True)


# ---------------------------------------------------------------------------------------
# Text clean-up

# [BRIEF] Chinese input methods produce full-width characters (１３８, ＋, （ ）, －) and
# the ideographic space; word processors produce typographic dashes.  All map to ASCII.
_TO_ASCII: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_TO_ASCII.update({ord(c): " " for c in _SPACES})
_TO_ASCII.update({ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"})

# Trimmed from both ends: spaces of any width, and a tab pasted from a spreadsheet.
_TRIM = " \t" + _SPACES

# Control, format (zero-width, bidi overrides), surrogate, private-use, unassigned,
# line and paragraph separator characters: never part of a number, refused anywhere.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# [ASTERISK] [TWILIO] [RFC3323] [BRIEF] what a withheld caller ID looks like, compared
# case-insensitively ('-' is what some gateways put in an empty field).
_WITHHELD_WORDS = frozenset(
    {"anonymous", "unknown", "restricted", "private", "withheld", "unavailable", "blocked", "-"}
)
_WITHHELD_ADDRESSES = frozenset({"anonymous@anonymous.invalid"})  # [RFC3323]
# [TWILIO] keypad spellings of ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAILABLE
_TWILIO_WITHHELD = frozenset(
    {"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"}
)

# [RFC3261] [RFC3966] sip:, sips: and tel: URIs, optionally in <angle brackets>.
_URI = re.compile(r"(?i)(sips?|tel):(.*)")
_URI_START = re.compile(r"(?i)<?\s*(?:sips?|tel|ｓｉｐｓ?|ｔｅｌ)[:：]")
_SIP_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
_URI_PARAMS = re.compile(r"(?:;[A-Za-z0-9._~!$&'*+=%:/-]*)*")

# What may remain once the URI wrapping is gone: digits and visual separators.
_NUMBER_CHARS = frozenset("0123456789+-.() ")
# '0752-2345678 转 801', '... ext. 801', '... x801', '...#801': an extension after the number.
_EXTENSION = re.compile(r"(?i)[0-9)][\s.-]*(?:ext\.?|转|分机|x|#)\s*[0-9]+")


def _quote(text: str) -> str:
    """repr of the input, cut to 40 characters: safe to put in a message or a log."""
    quoted = repr(text)
    return quoted if len(quoted) <= _QUOTE_CHARS else quoted[: _QUOTE_CHARS - 3] + "..."


def _invalid(raw: str, why: str, reason: str) -> InvalidNumber:
    return InvalidNumber(f"{_quote(raw)} is not a phone number: {why}.", reason)


# ---------------------------------------------------------------------------------------
# Parsing

def _parse(raw: object, *, default_area_code: str | None, strict: bool) -> PhoneNumber:
    area_default = _check_area_code(default_area_code) if default_area_code is not None else None

    if raw is None:
        if strict:
            raise InvalidNumber("No phone number was given (None).", "empty")
        return PhoneNumber("", "withheld", "")
    if not isinstance(raw, str):
        raise InvalidNumber(
            f"A phone number must be given as text, not as {type(raw).__name__}.", "not_text"
        )

    if raw.isdigit() and raw.isascii() and len(raw) <= MAX_NUMBER_CHARS:
        # the usual caller ID, digits only: nothing to trim, unwrap or refuse before classifying
        kind, key, area = _classify(raw, False, raw, area_default, strict)
        return PhoneNumber(raw, kind, key, area)

    def withheld() -> PhoneNumber:
        if strict:
            raise InvalidNumber(
                f"{_quote(raw)} is a withheld-number marker: {_WITHHELD_MESSAGE}.", "withheld"
            )
        return PhoneNumber(raw, "withheld", "")

    text = raw.strip(_TRIM)
    if not text:
        if strict:
            raise _invalid(raw, "nothing was given", "empty")
        return withheld()
    limit = MAX_URI_CHARS if _URI_START.match(text) else MAX_NUMBER_CHARS
    if len(text) > limit:
        raise _invalid(raw, f"it is {len(text)} characters long, more than {limit}", "too_long")
    if not (text.isascii() and text.isprintable()) and any(  # printable ASCII: no Unicode lookups
            unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text):
        raise _invalid(raw, "it contains a control or invisible character", "control_character")

    text = text.translate(_TO_ASCII)
    folded = text.casefold()
    if folded in _WITHHELD_WORDS or folded in _WITHHELD_ADDRESSES:
        return withheld()

    number = _strip_uri(raw, text)
    if number is None:  # not a URI
        if len(text) > MAX_NUMBER_CHARS:  # looked like a URI (so got the URI limit) but is not one
            raise _invalid(raw, f"it is {len(text)} characters long, more than {MAX_NUMBER_CHARS}", "too_long")
        number = text
    elif number.casefold() in _WITHHELD_WORDS:  # sip:anonymous@anonymous.invalid, tel:unknown
        return withheld()

    plus, digits = _digits(raw, number)
    if plus and "+" + digits in _TWILIO_WITHHELD:
        return withheld()
    kind, key, area = _classify(raw, plus, digits, area_default, strict)
    return PhoneNumber(raw, kind, key, area)


def _strip_uri(raw: str, text: str) -> str | None:
    """The number part of a sip:/sips:/tel: URI, or None when the text is no URI."""
    inner = text
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1].strip()
    match = _URI.fullmatch(inner)
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "tel":
        # [RFC3966] tel:<number>[;param=value]*
        number, _, params = rest.partition(";")
        if params and not _URI_PARAMS.fullmatch(";" + params):
            raise _invalid(raw, "its tel: URI parameters are malformed", "bad_uri")
    else:
        # [RFC3261] sip:<user>[;user-params][@host[:port]][;uri-params]
        user, at, host = rest.partition("@")
        if at:
            host_part, _, params = host.partition(";")
            if not _SIP_HOST.fullmatch(host_part) or (params and not _URI_PARAMS.fullmatch(";" + params)):
                raise _invalid(raw, "the host part of its SIP URI is malformed", "bad_uri")
        number, _, user_params = user.partition(";")
        if user_params and not _URI_PARAMS.fullmatch(";" + user_params):
            raise _invalid(raw, "the user part of its SIP URI is malformed", "bad_uri")
    number = number.strip()
    if not number:
        raise _invalid(raw, "its URI holds no number", "bad_uri")
    if len(number) > MAX_NUMBER_CHARS:
        raise _invalid(raw, f"its number part is longer than {MAX_NUMBER_CHARS} characters", "too_long")
    return number


def _digits(raw: str, number: str) -> tuple[bool, str]:
    """(had a leading '+', the ASCII digits) of text made of digits and separators."""
    for ch in number:
        if ch not in _NUMBER_CHARS:
            if _EXTENSION.search(number):
                raise _invalid(
                    raw,
                    "an extension is not part of a caller ID, give the number without it",
                    "extension",
                )
            raise _invalid(
                raw,
                f"it contains {ch!r}, but only digits, spaces, '+', '-', '.' and parentheses are allowed",
                "bad_character",
            )
    plus = "+" in number
    if plus and (number.count("+") > 1 or not number.lstrip("( ").startswith("+")):
        raise _invalid(raw, "a '+' may only stand at the very start", "bad_plus")
    digits = "".join(ch for ch in number if ch.isascii() and ch.isdigit())
    if not digits:
        raise _invalid(raw, "it contains no digits", "no_digits")
    return plus, digits


# [CN-PLAN] mobiles: 11 digits, 1 then 3-9.
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# [CN-PLAN] a landline dials trunk 0 before an out-of-area mobile; some PBX trunks
# present the caller ID that way.
_MOBILE_WITH_TRUNK = re.compile(r"0(1[3-9][0-9]{9})")
# [CN-PLAN] area code 010 or 02X (3 digits with the 0) + 8-digit local number; other
# area codes 0XXX (4 digits with the 0, X first digit 3-9) + 7 or 8 digits.  [BRIEF]
# A local number never starts with 0 (that would be a second trunk prefix).
_LANDLINE = re.compile(
    r"(?P<a3>0(?:10|2[0-9]))(?P<l8>[1-9][0-9]{7})|(?P<a4>0[3-9][0-9]{2})(?P<l7>[1-9][0-9]{6,7})"
)
# [CN-PLAN] a bare local number: 7 or 8 digits; local numbers start 2-9 (0 is the trunk
# prefix, 1 opens mobiles and special services), so '1380013' is a cut-off mobile.
_LOCAL = re.compile(r"[2-9][0-9]{6,7}")
# [CN-PLAN] [12345] service numbers, never a person's line.
_SERVICE = re.compile(
    r"11[0249]|12[02]"  # 110 police, 112 mobile emergency, 114 directory, 119 fire, 120 ambulance, 122 traffic
    r"|100[0-9]{2}"  # 100XX carrier service: 10000, 10010, 10086, ...
    r"|12[0-9]{3}"  # 12XXX public-interest service: 12345 government hotline, 12315, 12306, ...
    r"|9[56][0-9]{3,4}"  # 95XXX(X) national, 96XXX(X) local service numbers
    r"|[48]00[0-9]{7}"  # 400 / 800 ten-digit numbers
)
# [CN-PLAN] area codes, with or without the trunk 0.
_AREA_CODE = re.compile(r"0?(10|2[0-9]|[3-9][0-9]{2})")


def _check_area_code(value: str) -> str:
    match = _AREA_CODE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"default_area_code {_quote(str(value))} is not a Chinese area code such as '0752' or '010'"
        )
    return "0" + match.group(1)


def _landline(digits: str) -> tuple[str, str, str] | None:
    match = _LANDLINE.fullmatch(digits)
    if match is None:
        return None
    area = match.group("a3") or match.group("a4")
    return "landline", digits, area


def _classify(
    raw: str, plus: bool, digits: str, area_default: str | None, strict: bool
) -> tuple[str, str, str | None]:
    if plus:
        if digits.startswith("86"):  # [E164] [CN-PLAN] +86 is China
            return _after_country_code(raw, digits[2:])
        return _international(raw, digits)
    if digits.startswith("00"):  # [CN-PLAN] 00 is the international prefix
        if digits.startswith("0086"):
            return _after_country_code(raw, digits[4:])
        return _international(raw, digits[2:])
    if digits.startswith("86") and len(digits) in (12, 13):
        # [BRIEF] '86' without '+': 86 + mobile (13 digits) or 86 + area code without
        # the 0 + local (12-13 digits).  No national number has 12-13 digits and starts
        # with 8, so this cannot be mistaken for one.
        return _after_country_code(raw, digits[2:])
    return _national(raw, digits, area_default, strict)


def _after_country_code(raw: str, rest: str) -> tuple[str, str, str | None]:
    # [CN-PLAN] after +86 comes the mobile number or the area code without trunk 0;
    # [BRIEF] '+86 (0)752 ...' and '+86 0752 ...' are common enough to accept.
    if rest.startswith("0"):
        rest = rest[1:]
    if _MOBILE.fullmatch(rest):
        return "mobile", rest, None
    landline = _landline("0" + rest)
    if landline is not None:
        return landline
    raise _invalid(
        raw,
        "after the country code 86 must come an 11-digit mobile number or an area code and local number",
        "bad_length",
    )


def _international(raw: str, digits: str) -> tuple[str, str, str | None]:
    # [E164] country codes start 1-9; at most 15 digits.  [BRIEF] at least 7.
    if digits.startswith("0"):
        raise _invalid(raw, "a country code never starts with 0", "bad_country_code")
    if not 7 <= len(digits) <= 15:
        raise _invalid(
            raw, f"an international number has 7 to 15 digits, this one has {len(digits)}", "bad_length"
        )
    return "international", "+" + digits, None


def _national(
    raw: str, digits: str, area_default: str | None, strict: bool
) -> tuple[str, str, str | None]:
    if _SERVICE.fullmatch(digits):
        return "service", digits, None
    if _MOBILE.fullmatch(digits):
        return "mobile", digits, None
    trunk_mobile = _MOBILE_WITH_TRUNK.fullmatch(digits)
    if trunk_mobile:
        return "mobile", trunk_mobile.group(1), None
    landline = _landline(digits)
    if landline is not None:
        return landline
    if _LOCAL.fullmatch(digits):
        if area_default is not None:
            landline = _landline(area_default + digits)
            if landline is None:
                raise _invalid(
                    raw,
                    f"a local number in area {area_default} has 8 digits, this one has {len(digits)}",
                    "bad_length",
                )
            return landline
        if strict:
            raise _invalid(
                raw,
                "it is a local number without an area code, add one, for example 0752-2345678",
                "no_area_code",
            )
        # [BRIEF] from the network, keep it as it came; it cannot match a number that
        # arrives with its area code.
        return "landline", digits, None
    raise _invalid(raw, _why_not_national(digits), "bad_length")


def _why_not_national(digits: str) -> str:
    n = len(digits)
    if digits.startswith("1") and n >= 10:
        return f"a Chinese mobile number has 11 digits and starts with 13 to 19, this one has {n} digits"
    if digits.startswith("0") and n >= 9:
        area = digits[:3] if digits[1] in "12" else digits[:4]
        if area != "010" and not area.startswith("02") and digits[1] in "12":
            return f"{area!r} is not a Chinese area code"
        local = "8 digits" if len(area) == 3 else "7 or 8 digits"
        return f"after area code {area} the local number must have {local}, this one has {n - len(area)}"
    if n in (7, 8):
        return "a local number starts with 2 to 9, and a mobile number has 11 digits"
    return f"it is not a Chinese mobile, landline or service number ({n} digits)"
