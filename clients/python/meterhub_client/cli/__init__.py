"""The `meterhub` command line (console script: meterhub_client.cli.main:main)."""
