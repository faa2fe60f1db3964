"""Partner storage on DynamoDB and usage-plan keys on API Gateway."""
