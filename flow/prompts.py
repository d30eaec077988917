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
MESSAGE_INTRO = "message_intro"          # no agent can answer: leave a message
MESSAGE_PROMPT = "message_prompt"        # the caller chose to leave a message
MESSAGE_SAVED = "message_saved"
MESSAGE_TICKET = "message_ticket"
MESSAGE_DEADLINE = "message_deadline"
MESSAGE_EMPTY = "message_empty"
LANGUAGE_MENU = "language_menu"
NO_AGENT_OFFER = "no_agent_offer"          # 1 message, 2 call-back, 0 keep waiting
NO_AGENT_OFFER_MESSAGE = "no_agent_offer_message"   # 1 message, 0 keep waiting (no call-back)
CALLBACK_BOOKED = "callback_booked"
LEADER_BUSY = "leader_busy"                # the dialplan plays it when the leader seat is busy
PROGRESS_ENTER = "progress_enter"
PROGRESS_NOT_FOUND = "progress_not_found"
PROGRESS_PRIVATE = "progress_private"
PROGRESS_STATUS = {"in_progress": "progress_in_progress", "awaiting_review": "progress_awaiting_review",
                   "closed": "progress_closed", "not_accepted": "progress_not_accepted"}
PROGRESS_DEADLINE = "progress_deadline"
PROGRESS_AFTER = "progress_after"
SURVEY = "survey"
SURVEY_THANKS = "survey_thanks"
SURVEY_UNAVAILABLE = "survey_unavailable"
# one digit each, for numbers read digit by digit (ticket numbers): the engine plays them itself,
# as Asterisk's SAY DIGITS needs a Chinese sound pack Asterisk does not ship
DIGITS = {d: f"digit_{d}" for d in "0123456789"}

ALL = (
    GREETING, MAIN_MENU_SPEECH, MAIN_MENU_KEYPAD, LEADER_ON_DUTY, LEADER_PRESS_9, TRANSFER_AGENT,
    TRANSFER_ERROR, GOODBYE, RESTRICTED_NOTICE, RESTRICTED_EMERGENCY, *EMERGENCY.values(),
    KB_SOLVED, MESSAGE_INTRO, MESSAGE_PROMPT, MESSAGE_SAVED, MESSAGE_TICKET, MESSAGE_DEADLINE, MESSAGE_EMPTY,
    LANGUAGE_MENU, NO_AGENT_OFFER, NO_AGENT_OFFER_MESSAGE, CALLBACK_BOOKED, LEADER_BUSY,
    PROGRESS_ENTER, PROGRESS_NOT_FOUND, PROGRESS_PRIVATE, *PROGRESS_STATUS.values(), PROGRESS_DEADLINE,
    PROGRESS_AFTER, SURVEY, SURVEY_THANKS, SURVEY_UNAVAILABLE, *DIGITS.values(),
)
