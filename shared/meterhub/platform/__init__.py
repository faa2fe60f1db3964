"""What every feature stands on: lazy AWS clients, the DynamoDB codec, the key formats, paging and stream
records. It imports no feature package, so every feature can use it without a cycle (an import contract holds this)."""
