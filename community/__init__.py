"""The community server: where alerts from the homes arrive and people act on them.

Django (registry, workflow, audit, admin), an MQTT ingest that receipts only after the commit,
timers (escalation, offline homes, acknowledgement resends, retention) on an injected clock, and
a JSON API under ``/api/v1/``. Installed with ``pip install eldergate[community]``; it imports
nothing of the home's code, only the contract (docs/architecture.md).
"""
