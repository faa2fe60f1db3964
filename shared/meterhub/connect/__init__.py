"""Connect: the customer-authorized flow (pages, state, callback), authorizations, refresh and utility sync."""
