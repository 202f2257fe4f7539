"""How export is reached: the gRPC servicer (its bus subscription is wired in ``__main__``)."""
