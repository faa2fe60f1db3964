"""Storage adapters: the only package that talks to AWS (boto3)."""
