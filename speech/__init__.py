"""Speech recognition for calls (Vosk offline; a transcript-file recogniser for trying and tests)."""
