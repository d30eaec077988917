"""The Twilio voice channel: the same call flow as FastAGI, one turn per webhook, TwiML out."""
