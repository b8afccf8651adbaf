"""gRPC plumbing: the server every service runs and the clients they call each other with."""
