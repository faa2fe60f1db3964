"""Utility providers: the adapter protocol, configured utilities, and the Green Button Connect implementation."""
