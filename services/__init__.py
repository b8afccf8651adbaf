"""The platform's gRPC services, one package each."""
