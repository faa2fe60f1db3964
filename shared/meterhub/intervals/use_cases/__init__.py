"""What the uploads API and the ingest function do."""
