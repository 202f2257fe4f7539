"""Entry points: bus subscriptions (bus.py) and the gRPC PreannotateService (grpc_api.py)."""
