"""Utilities (the electric companies): one adapter interface, the Green Button implementation, the demo utility."""
