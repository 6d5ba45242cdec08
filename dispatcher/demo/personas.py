"""Who calls in `vnh simulate`: the callers' personas and their mix, providers' profiles, reviews.

The mix is a share per persona that sums to one; `--mix persona=weight,...` replaces the shares
it names and keeps the rest, and a mix that does not then sum to one is refused with the sum.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Who calls, and how often (each a share of the calls placed).
DEFAULT_MIX: dict[str, float] = {
    "decisive": 0.30,   # knows what they want, presses keys at once
    "slow": 0.12,       # lets one prompt time out before answering
    "miskey": 0.10,     # presses a key that is not offered once (sometimes twice)
    "speaker": 0.14,    # says what they need instead of pressing (the words elders use)
    "repeat": 0.12,     # has an open order: keeps it, or books something else; never cancels by mistake
    "confused": 0.07,   # asks for a person
    "emergency": 0.05,  # needs help now
    "family": 0.10,     # a son or daughter calling for a parent
}
PERSONAS = tuple(DEFAULT_MIX)
# Personas whose call is an ordinary request: they want to book (or keep) a visit by themselves.
ORDINARY = frozenset({"decisive", "slow", "miskey", "speaker", "repeat", "family"})
MIX_TOLERANCE = 1e-6


class BadMix(ValueError):
    """A persona mix that names an unknown persona, has a bad weight, or does not sum to one."""


def parse_mix(text: str | None, base: dict[str, float] | None = None) -> dict[str, float]:
    """`decisive=0.5,speaker=0.2,...` over `base` (the default mix); refused unless it sums to one."""
    mix = dict(DEFAULT_MIX if base is None else base)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or name not in mix:
            raise BadMix(f"unknown persona {name!r} in the mix: choose from {', '.join(PERSONAS)}")
        try:
            weight = float(raw)
        except ValueError:
            raise BadMix(f"the weight of {name} is not a number: {raw!r}") from None
        if not 0 <= weight <= 1:
            raise BadMix(f"the weight of {name} must be between 0 and 1, not {raw}")
        mix[name] = weight
    total = sum(mix.values())
    if abs(total - 1) > MIX_TOLERANCE:
        listed = ", ".join(f"{k}={v:g}" for k, v in mix.items())
        raise BadMix(f"the persona mix must sum to one, but it sums to {total:.4g} ({listed})")
    return mix


def draw_persona(rng: random.Random, mix: dict[str, float]) -> str:
    names = [n for n in PERSONAS if mix.get(n, 0) > 0]
    return rng.choices(names, weights=[mix[n] for n in names])[0]


# How providers answer offers and turn up (a share of providers each, in the order given).
@dataclass(frozen=True)
class ProviderProfile:
    name: str
    share: float
    decline: float      # chance to decline an offer
    late_answer: float  # chance to answer only after the offer has lapsed
    no_show: float      # chance to accept and never come


PROVIDER_PROFILES = (
    ProviderProfile("prompt", 0.5, decline=0.05, late_answer=0.0, no_show=0.0),
    ProviderProfile("slow", 0.2, decline=0.1, late_answer=0.5, no_show=0.0),
    ProviderProfile("declining", 0.2, decline=0.6, late_answer=0.0, no_show=0.0),
    ProviderProfile("no-show", 0.1, decline=0.1, late_answer=0.0, no_show=0.25),
)


def provider_profile(rng: random.Random) -> ProviderProfile:
    return rng.choices(PROVIDER_PROFILES, weights=[p.share for p in PROVIDER_PROFILES])[0]


# How elders answer the review call after a visit.
REVIEW_UNREACHED = 0.15      # does not pick up
FALSE_DENIAL = 0.03          # the worker came, but the elder says nobody did
RATINGS = ((5, 0.58), (4, 0.25), (3, 0.10), (2, 0.04), (1, 0.03))
# How long an operator takes to answer a transferred call (seconds, weights), and how long a caller waits.
ANSWER_DELAYS = ((8, 0.35), (18, 0.3), (35, 0.2), (55, 0.1), (95, 0.05))
CALLER_PATIENCE_S = 80


def rating(rng: random.Random) -> int:
    return rng.choices([r for r, _ in RATINGS], weights=[w for _, w in RATINGS])[0]


def answer_delay(rng: random.Random) -> int:
    return rng.choices([d for d, _ in ANSWER_DELAYS], weights=[w for _, w in ANSWER_DELAYS])[0]


# What elders say when they speak instead of pressing: a few ways of putting a need around the
# catalogue's own phrases (the speech corpus in the tests is written separately, by hand).
SPOKEN_FRAMES = ("{}", "我想{}", "喂，{}", "那个，{}，麻烦你们", "娃娃不在家，{}", "{}，能不能来个人")
EMERGENCY_WORDS = ("我摔倒了起不来", "救命啊", "心口疼得厉害", "有煤气味")
