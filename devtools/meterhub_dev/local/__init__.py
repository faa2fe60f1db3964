"""The local runner: the no-Docker counterpart of `sam local start-api` and `sam local invoke`.

Everything it serves or creates is read from template.yaml (routes, authorizer, gateway responses, tables,
buckets, queues, function environments), so a route or table added to the template shows up locally with no
change here. AWS services are an embedded moto server; each invocation runs in an execution environment (a process) of
its own, as on Lambda (see lambda_runtime).

    python -m meterhub_dev.local run [--port N] [--env-file PATH] [--state-file PATH]
    python -m meterhub_dev.local invoke <FunctionLogicalId> <event.json>
"""
