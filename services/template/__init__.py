"""The template service."""
