"""Severities, the one list: rules carry one, routes filter by one, alerts sort by one."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["SEVERITIES", "Severity", "severity_rank"]

Severity = Literal["info", "low", "medium", "high", "critical"]
#: Ascending.
SEVERITIES: tuple[str, ...] = get_args(Severity)


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in ``SEVERITIES`` (info=0 … critical=4); unknown severities rank lowest."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
