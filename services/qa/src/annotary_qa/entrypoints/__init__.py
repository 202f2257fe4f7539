"""gRPC servicer and bus subscriptions."""
