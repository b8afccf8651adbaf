"""The contract service."""
