"""Channel drivers: Asterisk AGI/FastAGI (``ivr.agi``, ``ivr.fastagi``) and, later, Twilio."""
