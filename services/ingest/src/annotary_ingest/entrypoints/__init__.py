"""How ingest is reached: the gRPC servicer."""
