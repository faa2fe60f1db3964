"""The meters API's request and response models (Leap's shapes)."""
