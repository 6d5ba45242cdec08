"""The order state machine: a pure transition table."""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    NEW = "new"
    OFFERED = "offered"
    UNASSIGNED = "unassigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    VERIFIED = "verified"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"


class OrderEvent(StrEnum):
    OFFER = "offer"
    QUEUE = "queue"
    ACCEPT = "accept"
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    VERIFY = "verify"
    DENY = "deny"
    CANCEL = "cancel"


S, E = OrderState, OrderEvent

TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
    (S.NEW, E.OFFER): S.OFFERED,
    (S.NEW, E.QUEUE): S.UNASSIGNED,
    (S.NEW, E.CANCEL): S.CANCELLED,
    (S.OFFERED, E.OFFER): S.OFFERED,
    (S.OFFERED, E.ACCEPT): S.ACCEPTED,
    (S.OFFERED, E.QUEUE): S.UNASSIGNED,
    (S.OFFERED, E.CANCEL): S.CANCELLED,
    (S.UNASSIGNED, E.OFFER): S.OFFERED,
    (S.UNASSIGNED, E.CANCEL): S.CANCELLED,
    (S.ACCEPTED, E.CHECK_IN): S.IN_PROGRESS,
    (S.ACCEPTED, E.OFFER): S.OFFERED,
    (S.ACCEPTED, E.CANCEL): S.CANCELLED,
    (S.IN_PROGRESS, E.CHECK_OUT): S.COMPLETED,
    (S.COMPLETED, E.VERIFY): S.VERIFIED,
    (S.COMPLETED, E.DENY): S.DISPUTED,
    (S.DISPUTED, E.VERIFY): S.VERIFIED,
}

OPEN_STATES = frozenset({S.NEW, S.OFFERED, S.UNASSIGNED, S.ACCEPTED, S.IN_PROGRESS})


class IllegalTransition(ValueError):
    def __init__(self, state: OrderState, event: OrderEvent):
        super().__init__(f"an order that is {state.value} cannot {event.value}")
        self.state = state
        self.event = event


def next_state(state: str, event: OrderEvent) -> OrderState:
    """Return the state after `event`, or raise IllegalTransition."""
    try:
        return TRANSITIONS[(OrderState(state), event)]
    except KeyError:
        raise IllegalTransition(OrderState(state), event) from None
