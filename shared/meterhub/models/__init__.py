"""Partner-facing data models: Leap-compatible enums, the CreateMeter asset and its validation errors."""
