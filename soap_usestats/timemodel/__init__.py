"""The use_stats time model: its settings and its engines."""
