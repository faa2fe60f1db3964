"""Interval and upload storage on DynamoDB."""
