"""Names that moved keep working, with a DeprecationWarning that says where they went
(docs/api.md, "Names that moved")."""

import pytest

import driftrec
from driftrec.encoders import HashingEncoder


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("driftrec.simulators", "movielens_timelines", "movielens_histories"),
        ("driftrec.simulators.data", "movielens_timelines", "movielens_histories"),
        ("driftrec.experiments.offline.replay", "movielens_timelines", "padded_timelines"),
    ],
)
def test_renamed_functions_warn_and_are_the_new_ones(module, old, new):
    import importlib

    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} is deprecated; use .*{new}"):
        assert getattr(mod, old) is getattr(mod, new)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        mod.nope  # noqa: B018


@pytest.mark.parametrize("name", ["Validation", "live_value", "validate", "format_validation", "coverage_ok"])
def test_the_simulator_check_moved_to_offline_validation(name):
    from driftrec.experiments.offline import offpolicy, validation

    with pytest.warns(DeprecationWarning, match=f"offpolicy.{name} is deprecated; use .*offline.validation.{name}"):
        assert getattr(offpolicy, name) is getattr(validation, name)


def test_split_modules_still_export_what_they_held():
    from driftrec.envs import batched, device, inputs
    from driftrec.experiments.diagnostics import bench, timing
    from driftrec.experiments.offline import interactions, logfile, replay, trajectories
    from driftrec.experiments.online import calibrate, drift_stats
    from driftrec.simulators import explore, recommender

    assert recommender.slate_propensity is explore.slate_propensity and recommender.select is explore.select
    assert batched.check_memory is device.check_memory and batched.to_array is inputs.to_array
    assert trajectories.write_log is logfile.write_log and trajectories.LOG_COLUMNS is logfile.LOG_COLUMNS
    assert replay.padded_timelines is interactions.padded_timelines
    assert calibrate.drift_stats is drift_stats.drift_stats and bench.machine_info is timing.machine_info


def test_load_catalog_synthetic_is_now_synthetic_lm():
    enc = HashingEncoder(16)
    with pytest.warns(DeprecationWarning, match="name it 'synthetic-lm'"):
        old = driftrec.load_catalog("synthetic", enc, num_items=30)
    new = driftrec.load_catalog("synthetic-lm", enc, num_items=30)
    assert old.meta["source"] == new.meta["source"] == "synthetic-lm"
    assert old.ids == new.ids and bool((old.embeddings == new.embeddings).all())
    assert driftrec.synthetic_catalog(30).meta["source"] == "synthetic"  # the hashing catalog keeps its name
