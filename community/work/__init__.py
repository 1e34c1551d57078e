"""What the server does with what arrives: the alert workflow, escalation, offline homes,
acknowledgements to gateways, retention, statistics, scoping and imports."""
