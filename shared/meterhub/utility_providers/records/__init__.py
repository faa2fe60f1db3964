"""What the utility-provider feature knows and returns: the configured utilities, and a utility's answers."""
