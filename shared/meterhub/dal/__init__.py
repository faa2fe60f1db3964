"""Storage adapters: each port, its AWS adapter (on meterhub.platform's clients, codec, keys and paging) and an
in-memory fake."""
