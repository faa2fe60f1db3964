"""The platform's AWS adapters: lazy boto3 clients, the DynamoDB paginator and error translation, S3 and SQS."""
