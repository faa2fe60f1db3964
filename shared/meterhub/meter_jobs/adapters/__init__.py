"""Job and provisional-asset storage on DynamoDB."""
