"""Domain records kept in storage (separate from the API request/response models)."""
