"""The JSON API, /api/v1/ (django-ninja: typed with pydantic, like the contract, and it writes the
OpenAPI document from the same types)."""
