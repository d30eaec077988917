"""Leader-answering sessions (领导接听专席): leaders, seats and scheduled sessions."""
