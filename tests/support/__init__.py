"""Test support: real daemon processes, real nodes, free ports, condition waits."""
