"""Logical prompt ids. Texts live in ``recordings/prompts.toml``; audio in
``recordings/prompts/<lang>/<id>.wav`` (8 kHz, 16-bit, mono), built by ``hotline prompts build``."""

GREETING = "greeting"
MAIN_MENU_SPEECH = "main_menu_speech"
MAIN_MENU_KEYPAD = "main_menu_keypad"
LEADER_ON_DUTY = "leader_on_duty"
LEADER_PRESS_9 = "leader_press_9"
TRANSFER_AGENT = "transfer_agent"
TRANSFER_ERROR = "transfer_error"
GOODBYE = "goodbye"
RESTRICTED_NOTICE = "restricted_notice"
RESTRICTED_EMERGENCY = "restricted_emergency"
EMERGENCY = {"110": "emergency_110", "119": "emergency_119", "120": "emergency_120"}
KB_SOLVED = "kb_solved"
MESSAGE_INTRO = "message_intro"
MESSAGE_SAVED = "message_saved"
MESSAGE_TICKET = "message_ticket"
MESSAGE_DEADLINE = "message_deadline"
MESSAGE_EMPTY = "message_empty"
SURVEY = "survey"
SURVEY_THANKS = "survey_thanks"
SURVEY_UNAVAILABLE = "survey_unavailable"

ALL = (
    GREETING, MAIN_MENU_SPEECH, MAIN_MENU_KEYPAD, LEADER_ON_DUTY, LEADER_PRESS_9, TRANSFER_AGENT,
    TRANSFER_ERROR, GOODBYE, RESTRICTED_NOTICE, RESTRICTED_EMERGENCY, *EMERGENCY.values(),
    KB_SOLVED, MESSAGE_INTRO, MESSAGE_SAVED, MESSAGE_TICKET, MESSAGE_DEADLINE, MESSAGE_EMPTY,
    SURVEY, SURVEY_THANKS, SURVEY_UNAVAILABLE,
)
