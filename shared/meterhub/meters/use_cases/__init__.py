"""What the meters API and the meter stream do."""
