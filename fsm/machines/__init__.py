"""State machine definitions: declarative classes, validated when they are built."""
