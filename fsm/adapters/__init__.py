"""Embedded implementations of the ports: paper broker, bundled market data, demo strategy."""
