"""What every feature stands on: lazy AWS clients, the DynamoDB codec, the key formats, paging and stream
records. It imports no feature module (logic, dal, models, ...), so any of them can use it without a cycle."""
