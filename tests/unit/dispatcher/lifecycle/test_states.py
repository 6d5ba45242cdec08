import itertools

import pytest

from dispatcher.lifecycle.states import (
    OPEN_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    OrderState,
    next_state,
)

S, E = OrderState, OrderEvent

# Written out by hand from the lifecycle (DESIGN.md, "The main flow"), not read from TRANSITIONS,
# so a wrong entry in the table fails here.
LEGAL = [
    ("new", "offer", "offered"),
    ("new", "queue", "unassigned"),
    ("new", "cancel", "cancelled"),
    ("offered", "offer", "offered"),
    ("offered", "accept", "accepted"),
    ("offered", "queue", "unassigned"),
    ("offered", "cancel", "cancelled"),
    ("unassigned", "offer", "offered"),
    ("unassigned", "cancel", "cancelled"),
    ("accepted", "check_in", "in_progress"),
    ("accepted", "offer", "offered"),
    ("accepted", "cancel", "cancelled"),
    ("in_progress", "check_out", "completed"),
    ("completed", "verify", "verified"),
    ("completed", "deny", "disputed"),
    ("disputed", "verify", "verified"),
]
ILLEGAL = [
    (state, event)
    for state, event in itertools.product(OrderState, OrderEvent)
    if (state.value, event.value) not in {(s, e) for s, e, _ in LEGAL}
]


@pytest.mark.parametrize(("state", "event", "after"), LEGAL)
def test_every_legal_transition_leads_to_the_state_written_here(state, event, after):
    assert next_state(state, OrderEvent(event)) is OrderState(after)


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_pair_missing_from_the_table_is_an_illegal_transition(state, event):
    with pytest.raises(IllegalTransition) as caught:
        next_state(state, event)
    assert (caught.value.state, caught.value.event) == (state, event)


def test_the_table_holds_exactly_the_pairs_written_here():
    assert {(s.value, e.value, a.value) for (s, e), a in TRANSITIONS.items()} == set(LEGAL)


def test_the_state_may_be_given_as_its_stored_text():
    assert next_state("offered", OrderEvent.ACCEPT) is OrderState.ACCEPTED


def test_an_illegal_transition_explains_itself_and_is_a_value_error():
    with pytest.raises(ValueError, match="an order that is cancelled cannot accept"):
        next_state(OrderState.CANCELLED, OrderEvent.ACCEPT)


def test_an_unknown_state_is_rejected():
    with pytest.raises(ValueError):
        next_state("lost", OrderEvent.OFFER)


def test_the_open_states_are_those_before_the_visit_is_completed():
    assert OPEN_STATES == {
        OrderState.NEW,
        OrderState.OFFERED,
        OrderState.UNASSIGNED,
        OrderState.ACCEPTED,
        OrderState.IN_PROGRESS,
    }


@pytest.mark.parametrize("state", [OrderState.VERIFIED, OrderState.CANCELLED])
def test_verified_and_cancelled_orders_are_final(state):
    assert not [event for (s, event) in TRANSITIONS if s is state]


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_every_open_state_can_reach_a_closed_state(state):
    seen, frontier = {state}, [state]
    while frontier:
        current = frontier.pop()
        for (s, _event), after in TRANSITIONS.items():
            if s is current and after not in seen:
                seen.add(after)
                frontier.append(after)
    assert seen - OPEN_STATES


def test_an_order_that_reaches_a_closed_state_never_reopens():
    closed = set(OrderState) - OPEN_STATES
    assert not [
        (s, e) for (s, e), after in TRANSITIONS.items() if s in closed and after in OPEN_STATES
    ]
