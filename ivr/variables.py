"""Every channel variable the engine and the shipped dialplan share (dialplans/*.conf use these names)."""

CALL_ID = "HOTLINE_CALL_ID"
ACTION = "HOTLINE_ACTION"        # queue | leader | emergency | hangup
TARGET = "HOTLINE_TARGET"        # queue name, leader seat dial string, 110/119/120
TICKET = "HOTLINE_TICKET"        # ticket number, when one was made
LANG = "HOTLINE_LANG"            # cmn | yue | hak
PRIORITY = "HOTLINE_PRIORITY"    # queue priority (QUEUE_PRIO) for callers who need it, e.g. elderly
STATUS = "HOTLINE_STATUS"        # monitoring route: OK | DEGRADED
SURVEY_RESULT = "HOTLINE_SURVEY" # survey route: rated | unrated | error | abandoned
ANNOUNCE = "HOTLINE_ANNOUNCE"    # with announce=1: prompt file(s), &-joined, the dialplan plays before acting

SET_BY_ENGINE = (CALL_ID, ACTION, TARGET, TICKET, LANG, PRIORITY, STATUS, SURVEY_RESULT, ANNOUNCE)

# FastAGI routes: the script part of agi://host:4573/NAME
ROUTE_HOTLINE = "hotline"
ROUTE_SURVEY = "survey"
ROUTE_MONITORING = "monitoring"
ROUTE_OUTCOME = "outcome"        # after a hand-off: outcome,<call id>,queue|leader|emergency,<status>
ROUTES = (ROUTE_HOTLINE, ROUTE_SURVEY, ROUTE_MONITORING, ROUTE_OUTCOME)
