"""Every parameter of the model declares what it allows, and the check holds at both ends."""

from __future__ import annotations

import dataclasses

import pytest

from driftrec.simulators.params import ClickParams, RecParams, UserParams

PARAMS = (UserParams, ClickParams, RecParams)
FIELDS = [(cls, f) for cls in PARAMS for f in dataclasses.fields(cls)]
IDS = [f"{cls.__name__}.{f.name}" for cls, f in FIELDS]


@pytest.mark.parametrize(("cls", "f"), FIELDS, ids=IDS)
def test_each_field_declares_its_range_and_its_default_is_inside(cls: type, f: dataclasses.Field) -> None:
    kind, *spec = f.metadata["check"]
    assert kind in ("number", "int", "choice")
    if kind == "choice":
        assert f.default in spec[0]
    else:
        lo, hi = spec[:2]
        assert lo <= f.default <= hi
    cls()  # the defaults pass their own checks


@pytest.mark.parametrize(("cls", "f"), FIELDS, ids=IDS)
def test_each_field_refuses_values_outside_and_accepts_its_ends(cls: type, f: dataclasses.Field) -> None:
    kind, *spec = f.metadata["check"]
    if kind == "choice":
        with pytest.raises(ValueError, match=rf"'no-such' is unknown; allowed: {', '.join(spec[0])}$"):
            cls(**{f.name: "no-such"})
        for allowed in spec[0]:
            assert getattr(cls(**{f.name: allowed}), f.name) == allowed
        return
    lo, hi = spec[:2]
    lo_open = kind == "number" and spec[2]
    step = 1 if kind == "int" else 1e-9
    for bad in (hi + step, lo - step) + ((lo,) if lo_open else ()):
        with pytest.raises(ValueError, match=rf"^{f.name}={bad!r} is "):
            cls(**{f.name: bad})
    for good in (hi,) if lo_open else (lo, hi):
        assert getattr(cls(**{f.name: good}), f.name) == good
    with pytest.raises(TypeError, match=rf"^{f.name} must be"):
        cls(**{f.name: "0.5"})
    if kind == "number":
        with pytest.raises(ValueError, match=rf"^{f.name}=nan is outside"):
            cls(**{f.name: float("nan")})
