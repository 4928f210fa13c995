"""Chain integration: address derivation, payment URIs, and the watchers that talk to nodes."""
