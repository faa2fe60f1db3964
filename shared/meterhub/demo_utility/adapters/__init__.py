"""The demo utility's store on DynamoDB."""
