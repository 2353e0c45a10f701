"""Embrace wearable exports: archive discovery, streamed reading, cleaning rules, outputs, Timestream loads."""
