"""Pure demo-utility rules: the Green Button feeds it serves."""
