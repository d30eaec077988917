"""The call flow: a pure state machine shared by every channel (FastAGI, AGI, Twilio).

It imports no telephony library. Channels turn its actions into AGI commands or TwiML and
feed back events; domain work happens behind the ports in ``flow.ports``.
"""
