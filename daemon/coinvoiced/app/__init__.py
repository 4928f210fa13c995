"""Application services and lifecycle: they tie the pure domain to the store, the chains and
the event bus."""
