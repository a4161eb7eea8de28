"""Reading the service's /metrics in tests."""

from __future__ import annotations


def sample(metrics: bytes, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    prefix = f"{name}{{{selector}}} " if labels else f"{name} "
    values = [float(line[len(prefix):]) for line in metrics.decode().splitlines()
              if line.startswith(prefix)]
    return values[0] if values else 0.0
