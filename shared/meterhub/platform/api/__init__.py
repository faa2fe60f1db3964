"""The API side of the platform: one resolver factory, one body decoder, one error envelope, field errors in words."""
