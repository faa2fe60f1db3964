"""meterhub: the domain layer shared by every Lambda function (shipped as a Lambda layer)."""
