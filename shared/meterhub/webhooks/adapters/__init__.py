"""Subscription and delivery-log storage on DynamoDB, and the HTTP sender."""
