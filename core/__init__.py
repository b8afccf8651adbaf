"""Plumbing shared by every service and the gateway: settings, errors, RPC, storage, tracing."""
