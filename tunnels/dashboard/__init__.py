"""The web dashboard, the JSON HTTP API (the `api` channel) and `/metrics` (README: "Dashboard and HTTP API")."""
