"""gRPC servicers: translate protobuf to and from the application services."""
