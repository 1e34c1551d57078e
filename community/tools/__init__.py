"""The community server's commands (``eldergate community ...``) and process wiring."""
