"""Speed and memory measurements: ``python -m benchmarks NAME [--json]``."""
