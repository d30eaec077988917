"""callers.numbers: every format of one number gives one key; garbage gives InvalidNumber."""
from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callers.numbers import InvalidNumber, PhoneNumber, normalize, parse_typed

MOBILE = "13800138000"
LANDLINE = "07522345678"
BEIJING = "01012345678"

MOBILE_FORMS = [
    "13800138000",
    "138 0013 8000",
    "138-0013-8000",
    "138.0013.8000",
    "(138) 0013 8000",
    "  13800138000\t",
    "+8613800138000",
    "+86 138 0013 8000",
    "+86-138-0013-8000",
    "(+86) 138 0013 8000",
    "008613800138000",
    "0086 138 0013 8000",
    "8613800138000",
    "86 13800138000",
    "013800138000",  # trunk 0 before a mobile, as a landline dials it
    "１３８００１３８０００",  # full-width digits
    "＋８６ １３８－００１３－８０００",  # full-width plus, dash and space
    "１３８\u3000００１３\u3000８０００",  # ideographic spaces
    "138\u20140013\u20138000",  # em and en dashes
    "tel:+86-138-0013-8000",
    "tel:13800138000;phone-context=+86",
    "TEL:+8613800138000",
    "sip:13800138000@10.0.0.1",
    "sip:13800138000@10.0.0.1:5060;transport=udp",
    "sips:+8613800138000@trunk.example.com",
    "sip:+8613800138000;cpc=ordinary@gw.example.com",
    "<sip:13800138000@pbx.huizhou.example>",
    "sip:+8613800138000@hotline12345.sip.us1.twilio.com",  # longer than 40 characters
]

LANDLINE_FORMS = [
    "07522345678",
    "0752-2345678",
    "0752 234 5678",
    "(0752) 2345678",
    "(0752)2345678",
    "0752.2345678",
    "+86 752 2345678",
    "+867522345678",
    "+86 (0)752 2345678",
    "+86-0752-2345678",
    "0086 752 2345678",
    "00867522345678",
    "86 752 2345678",
    "０７５２－２３４５６７８",
    "（０７５２）２３４５６７８",
    "tel:+86-752-2345678",
    "sip:07522345678@10.0.0.1",
    "sip:+867522345678@gw.example.com;user=phone",
]

BEIJING_FORMS = ["01012345678", "010-12345678", "(010) 1234 5678", "+86 10 1234 5678", "0086 10 12345678"]


# --- one number, one key -----------------------------------------------------------------

@pytest.mark.parametrize("parse", [normalize, parse_typed])
@pytest.mark.parametrize("text", MOBILE_FORMS)
def test_every_mobile_format_gives_the_same_key(parse, text):
    number = parse(text)
    assert (number.kind, number.key, number.area_code) == ("mobile", MOBILE, None)
    assert number.raw == text
    assert number.e164 == "+8613800138000"


@pytest.mark.parametrize("parse", [normalize, parse_typed])
@pytest.mark.parametrize("text", LANDLINE_FORMS)
def test_every_landline_format_gives_the_same_key(parse, text):
    number = parse(text)
    assert (number.kind, number.key, number.area_code) == ("landline", LANDLINE, "0752")
    assert number.e164 == "+867522345678"


@pytest.mark.parametrize("parse", [normalize, parse_typed])
@pytest.mark.parametrize("text", BEIJING_FORMS)
def test_three_digit_area_codes(parse, text):
    number = parse(text)
    assert (number.kind, number.key, number.area_code) == ("landline", BEIJING, "010")


@pytest.mark.parametrize(
    "text, key, area",
    [
        ("020-87654321", "02087654321", "020"),
        ("021 6234 5678", "02162345678", "021"),
        ("0752-23456789", "075223456789", "0752"),  # 8-digit local after a 4-digit area code
        ("0311 8765432", "03118765432", "0311"),
    ],
)
def test_other_landlines(text, key, area):
    number = parse_typed(text)
    assert (number.kind, number.key, number.area_code) == ("landline", key, area)


@pytest.mark.parametrize("parse", [normalize, parse_typed])
@pytest.mark.parametrize("default", ["0752", "752", " 0752 "])
def test_bare_local_number_takes_the_default_area_code(parse, default):
    number = parse("234 5678", default_area_code=default)
    assert (number.kind, number.key, number.area_code) == ("landline", LANDLINE, "0752")
    assert number == parse("0752-2345678")


def test_bare_local_number_without_default_is_kept_by_normalize():
    number = normalize("2345678")
    assert (number.kind, number.key, number.area_code) == ("landline", "2345678", None)
    assert number.blockable
    assert number.e164 is None
    assert number.masked == "****678"


def test_bare_local_number_without_default_is_refused_by_parse_typed():
    with pytest.raises(InvalidNumber, match="area code") as caught:
        parse_typed("2345678")
    assert caught.value.reason == "no_area_code"


@pytest.mark.parametrize("parse", [normalize, parse_typed])
def test_local_number_too_short_for_the_default_area(parse):
    with pytest.raises(InvalidNumber, match="8 digits"):
        parse("2345678", default_area_code="010")


def test_explicit_area_code_wins_over_the_default():
    assert parse_typed("010-12345678", default_area_code="0752").key == BEIJING
    assert parse_typed(MOBILE, default_area_code="0752").key == MOBILE


@pytest.mark.parametrize("bad", ["0752x", "", "1234", "0052", "+86"])
def test_bad_default_area_code_is_a_configuration_error(bad):
    with pytest.raises(ValueError, match="default_area_code") as caught:
        normalize("2345678", default_area_code=bad)
    assert not isinstance(caught.value, InvalidNumber)


def test_equality_ignores_the_raw_text():
    assert normalize("+86 138 0013 8000") == parse_typed("138-0013-8000")
    assert len({normalize(text) for text in MOBILE_FORMS}) == 1
    assert normalize(MOBILE) != normalize(LANDLINE)


# --- withheld ----------------------------------------------------------------------------

WITHHELD_FORMS = [
    None,
    "",
    " ",
    "\t \u3000",
    "anonymous",
    "Anonymous",
    "ANONYMOUS",
    "ａｎｏｎｙｍｏｕｓ",
    "unknown",
    "restricted",
    "Restricted",
    "private",
    "withheld",
    "unavailable",
    "blocked",
    "-",
    " - ",
    "+266696687",  # Twilio: ANONYMOUS on a keypad
    "+7378742833",  # RESTRICTED
    "+2562533",  # BLOCKED
    "+8656696",  # UNKNOWN
    "+86282452253",  # UNAVAILABLE
    "anonymous@anonymous.invalid",
    "sip:anonymous@anonymous.invalid",
    "<sip:anonymous@anonymous.invalid>",
    "sip:+266696687@example.sip.twilio.com",
]


@pytest.mark.parametrize("text", WITHHELD_FORMS)
def test_withheld_forms_from_the_network(text):
    number = normalize(text)
    assert number.kind == "withheld"
    assert number.withheld
    assert number.key == ""
    assert number.area_code is None
    assert not number.blockable
    assert number.masked == "withheld"
    assert number.e164 is None
    assert number.raw == (text if text is not None else "")


@pytest.mark.parametrize("text", [t for t in WITHHELD_FORMS if t and t.strip(" \t\u3000")])
def test_withheld_forms_cannot_be_typed(text):
    with pytest.raises(InvalidNumber) as caught:
        parse_typed(text)
    assert "withheld or anonymous numbers cannot be blocked or looked up by number" in str(caught.value)
    assert caught.value.reason == "withheld"


@pytest.mark.parametrize("text", [None, "", "   "])
def test_nothing_typed(text):
    with pytest.raises(InvalidNumber) as caught:
        parse_typed(text)
    assert caught.value.reason == "empty"


def test_normal_number_is_not_withheld():
    assert not normalize(MOBILE).withheld


# --- service numbers ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, key",
    [
        ("110", "110"),
        ("119", "119"),
        ("120", "120"),
        ("122", "122"),
        ("12345", "12345"),
        ("１２３４５", "12345"),
        ("sip:12345@10.0.0.1", "12345"),
        ("12315", "12315"),
        ("10086", "10086"),
        ("95588", "95588"),
        ("955 88", "95588"),
        ("955881", "955881"),
        ("96123", "96123"),
        ("961234", "961234"),
        ("400-810-8888", "4008108888"),
        ("400 123 4567", "4001234567"),
        ("800-810-8888", "8008108888"),
    ],
)
@pytest.mark.parametrize("parse", [normalize, parse_typed])
def test_service_numbers(parse, text, key):
    number = parse(text)
    assert (number.kind, number.key, number.area_code) == ("service", key, None)
    assert not number.blockable
    assert not number.withheld
    assert number.masked == key
    assert number.e164 is None


def test_service_numbers_ignore_the_default_area_code():
    assert parse_typed("12345", default_area_code="0752").kind == "service"


# --- international -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, key",
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("001 415 555 2671", "+14155552671"),
        ("+852 2345 6789", "+85223456789"),  # Hong Kong is not in the +86 plan
        ("+853 2888 1234", "+85328881234"),
        ("+886 2 2345 6789", "+886223456789"),
        ("＋４４ ２０ ７９４６ ０９５８", "+442079460958"),
        ("tel:+44-20-7946-0958", "+442079460958"),
        ("sip:+442079460958@gw.example.com", "+442079460958"),
        ("+1234567", "+1234567"),  # 7 digits, the shortest accepted
        ("+123456789012345", "+123456789012345"),  # 15 digits, the E.164 maximum
    ],
)
@pytest.mark.parametrize("parse", [normalize, parse_typed])
def test_international(parse, text, key):
    number = parse(text)
    assert (number.kind, number.key, number.area_code) == ("international", key, None)
    assert number.blockable
    assert number.e164 == key


@pytest.mark.parametrize("text", ["+123456", "+1234567890123456", "00123456", "+0441234567", "000441234567"])
def test_international_length_and_country_code(text):
    with pytest.raises(InvalidNumber):
        parse_typed(text)


# --- garbage -----------------------------------------------------------------------------

GARBAGE = [
    ("13800138000\nHANGUP", "control_character"),
    ("13800138000\n", "control_character"),
    ("13800138000\r\nX-Header: 1", "control_character"),
    ("1380013\x008000", "control_character"),
    ("\x1b[31m13800138000", "control_character"),
    ("\u202e13800138000", "control_character"),  # right-to-left override
    ("138\u200b00138000", "control_character"),  # zero-width space
    ("1380013800'; DROP TABLE", "bad_character"),
    ("13800138000; DROP TABLE callers", "bad_character"),
    ("<script>alert(1)</script>", "bad_character"),
    ("${jndi:ldap://x}", "bad_character"),
    ("1380013800O", "bad_character"),  # letter O for a zero
    ("138OO138OOO", "bad_character"),
    ("phone: 13800138000", "bad_character"),
    ("abc", "bad_character"),
    ("13800138000,13900139000", "bad_character"),
    ("٣٨٠٠١٣٨٠٠٠١", "bad_character"),  # Arabic-Indic digits are not accepted as digits
    ("0752-2345678 转 801", "extension"),
    ("0752-2345678 ext. 801", "extension"),
    ("0752-2345678x801", "extension"),
    ("1" * 41, "too_long"),
    (" 1" * 30, "too_long"),
    ("sip:13800138000@" + "a" * 120, "too_long"),
    ("()", "no_digits"),
    ("+", "no_digits"),
    ("138+00138000", "bad_plus"),
    ("++8613800138000", "bad_plus"),
    ("1380013800", "bad_length"),  # one digit short
    ("138001380001", "bad_length"),  # one digit long
    ("12800138000", "bad_length"),  # 12x is not a mobile prefix
    ("0752-12345", "bad_length"),
    ("0752-123456789", "bad_length"),
    ("010-1234567", "bad_length"),  # Beijing local numbers have 8 digits
    ("011-12345678", "bad_length"),  # no such area code
    ("1234567", "bad_length"),  # a local number does not start with 1
    ("0234567", "bad_length"),
    ("12", "bad_length"),
    ("999", "bad_length"),
    ("+86 138 0013 800", "bad_length"),
    ("+86 12345", "bad_length"),
    ("sip:@host", "bad_uri"),
    ("sip:13800138000@bad host", "bad_uri"),
    ("sip:13800138000@host?subject=x", "bad_uri"),
    ("sip:user:password@host", "bad_character"),
    ("<sip:13800138000@host", "bad_character"),
]


@pytest.mark.parametrize("text, reason", GARBAGE)
def test_garbage_is_refused_with_a_clear_message(text, reason):
    with pytest.raises(InvalidNumber) as caught:
        parse_typed(text)
    error = caught.value
    message = str(error)
    assert error.reason == reason
    assert isinstance(error, ValueError)
    # one sentence, on one line, quoting the input with repr, never the raw text
    assert message.endswith(".")
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert message.startswith(repr(text)[:37])
    quoted = repr(text)
    if len(quoted) > 40:
        assert quoted not in message
        assert message.startswith(quoted[:37] + "...")


@pytest.mark.parametrize("text, reason", GARBAGE)
def test_garbage_is_refused_by_normalize_too(text, reason):
    with pytest.raises(InvalidNumber) as caught:
        normalize(text)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("13800138000\nHANGUP", "control or invisible character"),
        ("1380013800'; DROP TABLE", "only digits"),
        ("", "nothing was given"),
        ("1380013800", "11 digits"),
        ("0752-12345", "7 or 8 digits"),
        ("1" * 41, "41 characters long"),
    ],
)
def test_messages_say_what_is_wrong(text, fragment):
    with pytest.raises(InvalidNumber, match=re.escape(fragment)):
        parse_typed(text)


def test_injection_text_is_escaped_in_the_message():
    with pytest.raises(InvalidNumber) as caught:
        parse_typed("13800138000\nHANGUP")
    assert str(caught.value).startswith("'13800138000\\nHANGUP' is not a phone number")


def test_non_text_is_refused():
    with pytest.raises(InvalidNumber, match="as text"):
        normalize(13800138000)  # type: ignore[arg-type]


def test_invalid_number_survives_pickling():
    error = InvalidNumber("'x' is not a phone number: it contains 'x'.", "bad_character")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)


# --- masks and E.164 ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, masked",
    [
        ("13800138000", "138****8000"),
        ("+86 139 1234 5678", "139****5678"),
        ("0752-2345678", "0752****678"),
        ("0752-23456789", "0752****6789"),
        ("010-12345678", "010****5678"),
        ("020-87654321", "020****4321"),
        ("12345", "12345"),
        ("95588", "95588"),
        ("+44 20 7946 0958", "+44****958"),
        ("+1234567", "+12****67"),
        ("anonymous", "withheld"),
    ],
)
def test_masked(text, masked):
    assert normalize(text).masked == masked


def test_repr_and_str_show_only_the_masked_number():
    number = normalize("13800138000")
    assert "13800138000" not in repr(number)
    assert "13800138000" not in str(number)
    assert "138****8000" in repr(number)


@pytest.mark.parametrize(
    "text, e164",
    [
        ("13800138000", "+8613800138000"),
        ("0752-2345678", "+867522345678"),
        ("010-12345678", "+861012345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("12345", None),
        ("110", None),
        ("anonymous", None),
        (None, None),
        ("2345678", None),
    ],
)
def test_e164(text, e164):
    assert normalize(text).e164 == e164


@pytest.mark.parametrize("text", MOBILE_FORMS + LANDLINE_FORMS + BEIJING_FORMS)
def test_e164_parses_back_to_the_same_number(text):
    number = normalize(text)
    assert parse_typed(number.e164) == number


@pytest.mark.parametrize(
    "kind, blockable",
    [("mobile", True), ("landline", True), ("international", True), ("service", False), ("withheld", False)],
)
def test_blockable_by_kind(kind, blockable):
    assert PhoneNumber("", kind, "").blockable is blockable


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        PhoneNumber("", "fax", "123")


def test_phone_number_is_frozen():
    number = normalize(MOBILE)
    with pytest.raises(AttributeError):
        number.key = "13900139000"  # type: ignore[misc]


# --- properties --------------------------------------------------------------------------

_PHONEISH = st.text(alphabet="0123456789０１２３４５６７８９+＋-－ ().\u3000", max_size=30)
_URIISH = st.builds(
    lambda scheme, user, host: f"{scheme}:{user}@{host}",
    st.sampled_from(["sip", "sips", "tel", "SIP"]),
    _PHONEISH,
    st.text(max_size=20),
)


@settings(max_examples=500, database=None, deadline=None)
@given(st.one_of(st.text(), st.text(max_size=60), _PHONEISH, _URIISH, st.from_regex(r"\+?[0-9 ]{3,20}", fullmatch=True)))
def test_normalize_returns_a_clean_key_or_raises_invalid_number(text):
    try:
        number = normalize(text)
    except InvalidNumber as error:
        message = str(error)
        assert message
        assert "\n" not in message
        return
    assert isinstance(number, PhoneNumber)
    assert re.fullmatch(r"\+?[0-9]*", number.key)
    assert number.key.isascii()
    assert number.kind in {"mobile", "landline", "service", "international", "withheld"}
    assert (number.key == "") == number.withheld
    if number.e164 is not None:
        assert re.fullmatch(r"\+[1-9][0-9]{6,14}", number.e164)


@settings(max_examples=300, database=None, deadline=None)
@given(
    prefix=st.sampled_from(["13", "14", "15", "16", "17", "18", "19"]),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    country=st.sampled_from(["", "+86", "+86 ", "0086", "86", "0", "(+86) ", "tel:+86-"]),
    separator=st.sampled_from(["", " ", "-", ".", "\u3000"]),
    full_width=st.booleans(),
)
def test_any_mobile_written_any_way_gives_its_digits(prefix, rest, country, separator, full_width):
    digits = prefix + rest
    text = country + separator.join([digits[:3], digits[3:7], digits[7:]])
    if full_width and not country.startswith("tel"):
        text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "+" else c for c in text)
    number = parse_typed(text)
    assert (number.kind, number.key) == ("mobile", digits)
    assert normalize(number.e164) == number


@settings(max_examples=500, database=None, deadline=None)
@given(digits=st.one_of(st.from_regex(r"[0-9]{1,30}", fullmatch=True),
                        st.sampled_from(["110", "12345", "13800138000", "07522345678", "0", "00", "0086"])),
       area=st.sampled_from([None, "0752", "010"]))
def test_a_digits_only_caller_id_takes_the_short_way_to_the_same_answer(digits, area):
    """Plain digits skip trimming and URI checks; a tab in front takes the long way: same result."""
    def outcome(text):
        try:
            n = normalize(text, default_area_code=area)
        except InvalidNumber as error:
            return ("invalid", error.reason)
        return (n.kind, n.key, n.area_code, n.e164, n.masked, n.blockable)
    assert outcome(digits) == outcome("\t" + digits)
