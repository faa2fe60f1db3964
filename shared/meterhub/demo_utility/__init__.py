"""The demo utility: a built-in OAuth 2 server with Green Button data for local runs, tests and staging."""
