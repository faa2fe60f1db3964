"""Developer tools outside the Lambda layer: the local runner and the admin CLI."""
