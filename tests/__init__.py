"""The test suites (unit, integration, contract, e2e) and the in-memory fakes."""
