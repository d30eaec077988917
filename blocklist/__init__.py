"""The 30-natural-day harassment restriction (DESIGN §3.1): blocks, their history, the check."""
