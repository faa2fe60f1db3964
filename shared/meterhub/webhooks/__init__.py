"""Webhooks: event types, receiver-URL rules (SSRF), signing and delivery. Pure: no AWS, no storage."""
