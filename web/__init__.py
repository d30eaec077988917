"""The engine's web listener: health, the engine's audio, Twilio's webhooks (and, later, the console)."""
