"""What the webhooks API and the dispatcher do."""
