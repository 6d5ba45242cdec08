import itertools

import pytest

from dispatcher.states import (
    OPEN_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderEvent,
    OrderState,
    next_state,
)

ILLEGAL = [
    (state, event)
    for state, event in itertools.product(OrderState, OrderEvent)
    if (state, event) not in TRANSITIONS
]


@pytest.mark.parametrize(
    ("state", "event", "after"), [(s, e, a) for (s, e), a in TRANSITIONS.items()]
)
def test_every_legal_transition_leads_to_the_state_in_the_table(state, event, after):
    assert next_state(state, event) is after


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_pair_missing_from_the_table_is_an_illegal_transition(state, event):
    with pytest.raises(IllegalTransition) as caught:
        next_state(state, event)
    assert (caught.value.state, caught.value.event) == (state, event)


def test_the_table_and_the_illegal_pairs_together_cover_every_pair():
    assert len(TRANSITIONS) + len(ILLEGAL) == len(OrderState) * len(OrderEvent)
    assert len(TRANSITIONS) == 16


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
