"""The signing service."""
