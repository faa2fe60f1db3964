"""Utility adapters: Green Button over HTTPS, client secrets from Secrets Manager, the adapter factory."""
