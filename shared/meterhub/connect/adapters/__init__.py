"""Connect storage on DynamoDB and the KMS token vault."""
