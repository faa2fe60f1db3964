"""Meter storage on DynamoDB."""
