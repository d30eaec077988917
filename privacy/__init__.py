"""Personal data over time: retention periods for recordings and for callers' personal data (PIPL).

``privacy.retention.purge`` deletes recordings and anonymises closed records once their period has
passed; ``hotline privacy purge`` runs it (docs/operations.md explains the periods and the law).
May import callers, tickets, blocklist and core.
"""
