"""What the Connect API, pages, callback, stream, refresh and sync do."""
