"""From call centre to data centre (数据中心): weak-signal alerts, knowledge gaps, reports, data sharing.

A domain layer above tickets, knowledge, blocklist and callers; it reads their tables and keeps
its own (``analytics.models``: alerts, export log).

* ``signals``  — the weak-signal scan: unusual clusters of similar requests from one region
* ``gaps``     — questions the knowledge base could not answer, grouped for admins and units
* ``reports``  — daily and monthly figures computed with SQL aggregates; CSV and JSON
* ``charts``   — the same figures as hand-drawn SVG charts
* ``export``   — JSON Lines ticket export for other government systems, personal data masked
"""
