"""Frozen, validated parameters of the user model, the click model and the recommender.

Noise magnitudes are dimension-free: a perturbation ``a * g / sqrt(d)`` with ``g ~ N(0, I_d)``
has norm about ``a`` relative to the unit vector it perturbs, whatever d is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from driftrec.encoders.checks import check_int, check_number

MODEL_VERSION = 2
"""Version of the simulation model, recorded in every summary.json. 1: one blended intent, raw
cosines, uniform exploration. 2: catalog-relative geometry (centred catalogs, catalog utility
units), multi-interest utility over facets, the softmax exploration mode; presets re-tuned."""


INTEREST_MODELS = ("facets", "blend")
UTILITY_UNITS = ("catalog", "cosine")


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

    num_facets: int = 2
    facet_noise: float = 0.5
    drift_scale: float = 0.0
    shift_hazard: float = 0.0
    mission_start: float = 0.0
    mission_end: float = 0.15
    mission_strength: float = 0.8
    reinforce_rate: float = 0.0
    fatigue_rate: float = 0.0
    boredom_strength: float = 0.0
    organic_rate: float = 0.0
    organic_noise: float = 0.5
    churn_rate: float = 0.0
    interest_model: str = "facets"
    facet_temperature: float = 0.05
    utility_units: str = "catalog"

    def __post_init__(self) -> None:
        if self.utility_units not in UTILITY_UNITS:
            raise ValueError(f"utility_units {self.utility_units!r} is unknown; allowed: {', '.join(UTILITY_UNITS)}")
        if self.interest_model not in INTEREST_MODELS:
            raise ValueError(
                f"interest_model {self.interest_model!r} is unknown; allowed: {', '.join(INTEREST_MODELS)}"
            )
        check_number("facet_temperature", self.facet_temperature, 0.0, 10.0, lo_open=True)
        check_int("num_facets", self.num_facets, 1, 64)
        for name in ("facet_noise", "drift_scale", "organic_noise", "boredom_strength"):
            check_number(name, getattr(self, name), 0.0, 10.0)
        for name in (
            "shift_hazard",
            "mission_start",
            "mission_strength",
            "reinforce_rate",
            "fatigue_rate",
            "organic_rate",
            "churn_rate",
        ):
            check_number(name, getattr(self, name), 0.0, 1.0)
        check_number("mission_end", self.mission_end, 0.0, 1.0, lo_open=True)


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

    model: str = "position"
    beta: float = 10.0
    threshold: float = 0.55
    exam_decay: float = 0.7
    accidental: float = 0.005

    def __post_init__(self) -> None:
        if self.model not in CLICK_MODELS:
            raise ValueError(f"click model {self.model!r} is unknown; known models: {', '.join(CLICK_MODELS)}")
        check_number("beta", self.beta, 0.0, 1000.0, lo_open=True)
        check_number("threshold", self.threshold, -1.0, 1.0)
        check_number("exam_decay", self.exam_decay, 0.0, 10.0)
        check_number("accidental", self.accidental, 0.0, 1.0)


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

    prior_noise: float = 1.0
    long_rate: float = 0.05
    click_weight: float = 1.0
    organic_weight: float = 0.5
    default_alpha: float = 0.3
    default_mix: float = 0.7
    default_explore: float = 0.0
    explore_mode: str = "slot"
    explore_temperature: float = 0.2
    explore_floor: float = 0.1

    def __post_init__(self) -> None:
        if self.explore_mode not in EXPLORE_MODES:
            raise ValueError(f"explore_mode {self.explore_mode!r} is unknown; allowed: {', '.join(EXPLORE_MODES)}")
        check_number("explore_temperature", self.explore_temperature, 0.0, 10.0, lo_open=True)
        check_number("explore_floor", self.explore_floor, 0.0, 1.0)
        check_number("prior_noise", self.prior_noise, 0.0, 10.0)
        check_number("click_weight", self.click_weight, 0.0, 100.0)
        check_number("organic_weight", self.organic_weight, 0.0, 100.0)
        for name in ("long_rate", "default_alpha", "default_mix", "default_explore"):
            check_number(name, getattr(self, name), 0.0, 1.0)


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
