"""Pure meter rules: enrollment derived from a stored meter and the catalog."""
