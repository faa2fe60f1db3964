"""HTTP concerns shared by the API functions: the resolver factory, error envelopes, caller identity."""
