"""Emit Perennial's typed events to Prefect, where automations (the retrain trigger) match them."""

from __future__ import annotations

from prefect.events import emit_event

from perennial.core.events import PerennialEvent


def emit(event: PerennialEvent | None) -> str | None:
    """Send one event; returns its id (None for no event, or when events are off)."""
    if event is None:
        return None
    sent = emit_event(event=event.name, resource=event.resource(), payload=event.payload())
    return None if sent is None else str(sent.id)
