"""Bus subscriptions (the gRPC port serves only grpc.health.v1 for now)."""
