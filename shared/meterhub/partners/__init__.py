"""Partners: accounts, API keys (stored hashed) and fair-use usage keys."""
