"""In-memory fakes of the ports, for unit tests; a parity test runs the same checks on each fake and its adapter."""
