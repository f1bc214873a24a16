"""Named scenario presets: which user dynamics are on, and how strongly.

``make_scenario("abrupt", shift_hazard=0.05, slate_size=5)`` returns a preset with overrides;
override keys are the field names of ``UserParams``, ``ClickParams``, ``RecParams`` and
``Scenario`` itself (all distinct), so one flat keyword list reaches every part.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftrec.encoders.checks import check_int
from driftrec.simulators.params import ClickParams, RecParams, UserParams, field_names

MOVIELENS_FIT = {"beta": 20.0, "drift_scale": 0.2, "shift_hazard": 0.0}
"""Fitted by ``driftrec calibrate --out runs/calibrate`` (recorded in docs/calibration.json)."""

_GROUPS = {"user": UserParams, "click": ClickParams, "rec": RecParams}
_OWN = ("slate_size", "horizon")


@dataclass(frozen=True)
class Scenario:
    """A complete simulation setting.

    Attributes:
        name: preset name (or "custom").
        description: one line on what drifts.
        user: hidden user model parameters.
        click: click model parameters.
        rec: recommender settings.
        slate_size: k items shown per step.
        horizon: maximum episode length in steps (episodes end earlier on churn).
    """

    name: str
    description: str
    user: UserParams = field(default_factory=UserParams)
    click: ClickParams = field(default_factory=ClickParams)
    rec: RecParams = field(default_factory=RecParams)
    slate_size: int = 10
    horizon: int = 200

    def __post_init__(self) -> None:
        check_int("slate_size", self.slate_size, 1, 1000)
        check_int("horizon", self.horizon, 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scenario:
        """The inverse of ``to_dict`` (validated like any Scenario; unknown keys are errors). Besides
        the nested groups (user, click, rec), flat parameters as ``--set`` takes them are accepted
        (``{"shift_hazard": 0.1}``); they apply on top of the defaults and the groups."""
        if not isinstance(d, dict):
            raise TypeError(f"a scenario must be a JSON object, got {type(d).__name__}")
        own = {f.name for f in dataclasses.fields(cls)}
        flat = {k: v for k, v in d.items() if k not in own and k in override_keys()}
        unknown = set(d) - own - set(flat)
        if unknown:
            raise ValueError(
                f"unknown scenario keys {sorted(unknown)}; allowed: {', '.join(sorted(own))}, or any parameter "
                "that --set takes (see driftrec scenarios --json)"
            )
        kw = {k: v for k, v in d.items() if k in own}
        for group, sub in _GROUPS.items():
            if group in kw:
                if not isinstance(kw[group], dict):
                    raise ValueError(f"scenario key {group!r} must be an object of parameters, got {kw[group]!r}")
                extra = set(kw[group]) - set(field_names(sub))
                if extra:
                    allowed = ", ".join(field_names(sub))
                    raise ValueError(f"unknown {group} parameters {sorted(extra)}; allowed: {allowed}")
                kw[group] = sub(**kw[group])
        out = cls(**{"name": "custom", "description": "", **kw})
        return out.replace(**flat) if flat else out

    def replace(self, **overrides: Any) -> Scenario:
        """A copy with flat overrides (see module docstring); unknown keys raise ValueError."""
        per_group: dict[str, dict[str, Any]] = {g: {} for g in _GROUPS}
        top: dict[str, Any] = {}
        for key, value in overrides.items():
            if key in _OWN:
                top[key] = value
                continue
            for g, cls in _GROUPS.items():
                if key in field_names(cls):
                    per_group[g][key] = value
                    break
            else:
                raise ValueError(f"unknown scenario parameter {key!r}; allowed: {', '.join(sorted(override_keys()))}")
        changed = {g: dataclasses.replace(getattr(self, g), **kw) for g, kw in per_group.items() if kw}
        return dataclasses.replace(self, **changed, **top)


def override_keys() -> set[str]:
    """Every key ``Scenario.replace`` accepts."""
    keys = set(_OWN)
    for cls in _GROUPS.values():
        keys.update(field_names(cls))
    return keys


PRESETS: dict[str, Scenario] = {
    "stable": Scenario(
        "stable",
        "static multi-interest users: nothing drifts, so a constant weight should be enough",
        user=UserParams(num_facets=2),
    ),
    "gradual": Scenario(
        "gradual",
        "every interest facet takes small random steps on the sphere",
        user=UserParams(num_facets=2, drift_scale=0.06),
    ),
    "abrupt": Scenario(
        "abrupt",
        "single-interest users whose topic is replaced at random (hazard 0.03 per step)",
        user=UserParams(num_facets=1, shift_hazard=0.03),
    ),
    "missions": Scenario(
        "missions",
        "short focused missions (mean 7 steps) take over the intent, then it returns",
        user=UserParams(num_facets=2, mission_start=0.05, mission_end=0.15, mission_strength=0.8),
    ),
    "boredom": Scenario(
        "boredom",
        "users tire of what they just consumed; facet weights follow consumption",
        user=UserParams(num_facets=3, fatigue_rate=0.3, boredom_strength=0.6, reinforce_rate=0.05),
    ),
    "mixed": Scenario(
        "mixed",
        "all dynamics at moderate strength, organic search events and churn",
        user=UserParams(
            num_facets=3,
            drift_scale=0.03,
            shift_hazard=0.01,
            mission_start=0.02,
            mission_end=0.15,
            reinforce_rate=0.03,
            fatigue_rate=0.2,
            boredom_strength=0.4,
            organic_rate=0.2,
            churn_rate=0.02,
        ),
    ),
    "movielens": Scenario(
        "movielens",
        "fitted to MovieLens timelines (driftrec calibrate): fast gradual drift of two interests",
        user=UserParams(
            num_facets=2, drift_scale=MOVIELENS_FIT["drift_scale"], shift_hazard=MOVIELENS_FIT["shift_hazard"]
        ),
        click=ClickParams(beta=MOVIELENS_FIT["beta"]),
    ),
}


def scenario_names() -> list[str]:
    return list(PRESETS)


def make_scenario(scenario: str | Scenario, **overrides: Any) -> Scenario:
    """Look up a preset by name, read a scenario JSON file (``Scenario.to_dict``'s shape, e.g. the
    ``movielens_scenario.json`` that ``driftrec calibrate`` writes), or take a Scenario; then apply
    flat overrides."""
    if isinstance(scenario, Scenario):
        base = scenario
    elif isinstance(scenario, str) and scenario.endswith(".json"):
        path = Path(scenario).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such scenario file: {scenario!r}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"scenario file {scenario!r} is not valid JSON: {exc}") from exc
        base = Scenario.from_dict(data)
    elif isinstance(scenario, str):
        if scenario not in PRESETS:
            raise ValueError(
                f"unknown scenario {scenario!r}; known scenarios: {', '.join(PRESETS)} (or a .json scenario file)"
            )
        base = PRESETS[scenario]
    else:
        raise TypeError(f"scenario must be a preset name or a Scenario, got {type(scenario).__name__}")
    return base.replace(**overrides) if overrides else base
