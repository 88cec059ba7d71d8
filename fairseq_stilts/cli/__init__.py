"""The stilts-* commands."""
