"""In-memory fakes of the ports, for unit tests and benchmarks. tests/integration/parity runs each port's
contract over the fake and over its adapter on moto, so a fake that drifts from production fails there;
each module's docstring says what its fake deliberately leaves out."""
