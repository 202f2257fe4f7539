"""Adapters from the outside world (gRPC, the bus) to the service layer."""
