"""The filegen service."""
