"""Frozen, validated parameters of the user model, the click model and the recommender.

Noise magnitudes are dimension-free: a perturbation ``a * g / sqrt(d)`` with ``g ~ N(0, I_d)``
has norm about ``a`` relative to the unit vector it perturbs, whatever d is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from driftrec.encoders.checks import check_int, check_number

MODEL_VERSION = 2
"""Version of the simulation model, recorded in every summary.json. 1: one blended intent, raw
cosines, uniform exploration. 2: catalog-relative geometry (centred catalogs, catalog utility
units), multi-interest utility over facets, the softmax exploration mode; presets re-tuned."""


INTEREST_MODELS = ("facets", "blend")
UTILITY_UNITS = ("catalog", "cosine")


def number(default: float, lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """A float field allowed in [lo, hi] (or (lo, hi] with ``lo_open``), checked by ``check_fields``."""
    return field(default=default, metadata={"check": ("number", lo, hi, lo_open)})


def rate(default: float) -> Any:
    """A float field that is a probability or a rate per step, in [0, 1]."""
    return number(default, 0.0, 1.0)


def integer(default: int, lo: int, hi: int) -> Any:
    """An int field allowed in [lo, hi]."""
    return field(default=default, metadata={"check": ("int", lo, hi)})


def choice(default: str, allowed: tuple[str, ...], *, what: str = "") -> Any:
    """A str field that must be one of ``allowed``; ``what`` names it in the error (the field's name
    by default)."""
    return field(default=default, metadata={"check": ("choice", allowed, what)})


def check_fields(params: object) -> None:
    """Check every field of a params dataclass against the range or choices declared with it (the
    ``number``, ``rate``, ``integer`` and ``choice`` fields), in declaration order; the first wrong
    value raises the one-line error of ``check_number`` or ``check_int``, or a ValueError naming the
    allowed choices."""
    for f in fields(params):  # type: ignore[arg-type]
        if "check" not in f.metadata:
            continue
        kind, *spec = f.metadata["check"]
        value = getattr(params, f.name)
        if kind == "number":
            lo, hi, lo_open = spec
            check_number(f.name, value, lo, hi, lo_open=lo_open)
        elif kind == "int":
            check_int(f.name, value, *spec)
        elif value not in spec[0]:
            raise ValueError(f"{spec[1] or f.name} {value!r} is unknown; allowed: {', '.join(spec[0])}")


@dataclass(frozen=True)
class UserParams:
    """Hidden user model: interest facets and how they move.

    Attributes:
        num_facets: K interest facets per user, mixed by weights on the simplex.
        facet_noise: distance of a new facet (or mission topic) from the real item it is drawn near.
        drift_scale: gradual drift, the per-step random-walk step of every facet on the sphere.
        shift_hazard: abrupt shift, per-step probability that a facet is replaced by a new topic.
        mission_start: per-step probability that a short focused mission starts.
        mission_end: per-step probability that an active mission ends (mean length 1/mission_end).
        mission_strength: share of the intent taken by the mission topic while it is active.
        reinforce_rate: decay/reinforcement, how fast facet weights move toward consumed topics.
        fatigue_rate: boredom, the rate of the moving average of recently consumed items.
        boredom_strength: utility lost per unit similarity to that moving average.
        organic_rate: per-step probability of an organic search/browse event off the slate.
        organic_noise: distance of an organic event's vector from the current intent.
        churn_rate: probability of leaving after a step without any click (ends the episode).
        interest_model: how the facets make utility. "facets" (default): a soft maximum over the
            interests, ``u = tau * log sum_c w_c exp(cos(x, F_c) / tau)`` over the facets (weights
            ``w``) and an active mission topic, so one slate can serve several interests.
            "blend": the cosine to one blended intent vector (the model before version 2).
        facet_temperature: tau of the "facets" model (> 0): near 0 the best-matching interest
            alone counts; a facet of weight w costs its items ``tau * log(1 / w)`` of utility.
        utility_units: "catalog" (default): utility is the cosine scaled by
            ``0.4 / c10``, where c10 is the catalog's mean cosine between an item and its 10th
            nearest neighbour (``Catalog.neighbour_cos``), so ``threshold`` and ``beta`` mean the
            same on a dense or a sparse catalog; "cosine": the plain cosine (before version 2).
    """

    num_facets: int = integer(2, 1, 64)
    facet_noise: float = number(0.5, 0.0, 10.0)
    drift_scale: float = number(0.0, 0.0, 10.0)
    shift_hazard: float = rate(0.0)
    mission_start: float = rate(0.0)
    mission_end: float = number(0.15, 0.0, 1.0, lo_open=True)
    mission_strength: float = rate(0.8)
    reinforce_rate: float = rate(0.0)
    fatigue_rate: float = rate(0.0)
    boredom_strength: float = number(0.0, 0.0, 10.0)
    organic_rate: float = rate(0.0)
    organic_noise: float = number(0.5, 0.0, 10.0)
    churn_rate: float = rate(0.0)
    interest_model: str = choice("facets", INTEREST_MODELS)
    facet_temperature: float = number(0.05, 0.0, 10.0, lo_open=True)
    utility_units: str = choice("catalog", UTILITY_UNITS)

    def __post_init__(self) -> None:
        check_fields(self)


CLICK_MODELS = ("position", "cascade")


@dataclass(frozen=True)
class ClickParams:
    """Click model. Attraction of an item with utility ``x`` is
    ``accidental + (1 - accidental) * sigmoid(beta * (x - threshold))``.

    ``position``: slot j (0-based) is examined with probability ``(j + 1) ** -exam_decay`` and
    clicked if examined and attracted; several clicks per slate are possible.
    ``cascade``: the user scans top-down and clicks the first attractive item, then stops.

    Attributes:
        model: "position" or "cascade".
        beta: sharpness of attraction in utility (> 0).
        threshold: utility at which attraction is one half.
        exam_decay: position-bias exponent of the position model (0 means no position bias).
        accidental: probability of a click independent of utility.
    """

    model: str = choice("position", CLICK_MODELS, what="click model")
    beta: float = number(10.0, 0.0, 1000.0, lo_open=True)
    threshold: float = number(0.55, -1.0, 1.0)
    exam_decay: float = number(0.7, 0.0, 10.0)
    accidental: float = rate(0.005)

    def __post_init__(self) -> None:
        check_fields(self)


EXPLORE_MODES = ("slot", "slate", "softmax")


@dataclass(frozen=True)
class RecParams:
    """The recommender's fixed settings (the agent's weights are the action, not these).

    Attributes:
        prior_noise: how far the initial profile is from the user's true intent (LLM-derived prior).
        long_rate: update rate of the long-term profile per evidence event.
        click_weight: importance weight of a click as evidence.
        organic_weight: importance weight of an organic search/browse event as evidence.
        default_alpha, default_mix, default_explore: weights used to update the profiles when the
            agent acts in slate mode (and so sets no weights itself).
        explore_mode: how the ``explore`` weight randomises the slate. "slot": each slot is replaced,
            with probability explore, by a random item outside the greedy slate. "slate": with
            probability explore the whole slate is k distinct items uniformly from the catalog, so
            every item has probability at least explore / M at every position (logging for
            off-policy evaluation needs that support). "softmax" (semantic): with probability
            explore the slate is a Boltzmann sample near the query: the catalog is split into k
            strata (item index mod k), one item is drawn from each with probability proportional
            to ``exp(score / explore_temperature)``, and the strata go to the positions in a random
            rotation. Every item then has probability ``explore * pi / k`` at every position
            (``pi``: its share within its stratum, see ``explore_floor``), exactly.
        explore_temperature: temperature of the "softmax" mode, in utility units (> 0; small:
            close to the query, large: close to uniform).
        explore_floor: share of each stratum's draw of the "softmax" mode that is uniform (a
            defensive mixture: every item keeps probability at least ``explore_floor / |stratum|``,
            which bounds the importance weights off-policy estimates need).
    """

    prior_noise: float = number(1.0, 0.0, 10.0)
    long_rate: float = rate(0.05)
    click_weight: float = number(1.0, 0.0, 100.0)
    organic_weight: float = number(0.5, 0.0, 100.0)
    default_alpha: float = rate(0.3)
    default_mix: float = rate(0.7)
    default_explore: float = rate(0.0)
    explore_mode: str = choice("slot", EXPLORE_MODES)
    explore_temperature: float = number(0.2, 0.0, 10.0, lo_open=True)
    explore_floor: float = rate(0.1)

    def __post_init__(self) -> None:
        check_fields(self)


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
