"""The language the box in the home and the community server speak: MQTT topics and the JSON
of every payload (``messages``), with their JSON Schemas in ``docs/schemas/``. Imports nothing
of eldergate's own: both halves import it, it imports neither."""
