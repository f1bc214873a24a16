"""Where a trained policy came from, and whether an evaluation runs it somewhere else.

A policy file records what it was trained on (``train`` puts the scenario's resolved parameters
and the catalog's description and digest in its config). ``transfer`` compares that with the
scenario and catalog of an evaluation: ``simulate`` and ``compare`` mark such rows in their tables
and record the difference in summary.json, instead of running a policy on another catalog silently.
"""

from __future__ import annotations

from typing import Any

from driftrec.simulators.catalog import Catalog
from driftrec.simulators.scenarios import make_scenario


def describe_catalog(catalog: Catalog) -> dict[str, Any]:
    """What a training record keeps of a catalog: source, size, dimension, transform and digest."""
    return {
        "source": str(catalog.meta.get("source", "given")),
        "num_items": catalog.num_items,
        "dim": catalog.dim,
        "transform": catalog.meta.get("transform"),
        "digest": catalog.digest,
    }


def _label(scenario: str, cat: dict[str, Any]) -> str:
    size = f"{cat['num_items']:,} items" if cat.get("num_items") is not None else "size unknown"
    dim = f", {cat['dim']} dims" if cat.get("dim") is not None else ""
    tf = f", {cat['transform']}" if cat.get("transform") not in (None, "centre") else ""
    return f"{scenario} on {cat.get('source', '?')} ({size}{dim}{tf})"


def transfer(
    config: dict[str, Any], scenario: str, catalog: Catalog, overrides: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """None when the policy whose saved ``config`` is given was trained on this scenario (the same
    resolved parameters) and catalog (the same digest); else {"differs": ["scenario"|"catalog"...],
    "trained_on": label, "evaluated_on": label}. A policy without a training record counts as a
    transfer of unknown origin."""
    here = describe_catalog(catalog)
    evaluated_on = _label(scenario, here)
    if "scenario" not in config:
        return {"differs": ["unknown"], "trained_on": "unknown (no training record)", "evaluated_on": evaluated_on}
    params = make_scenario(scenario, **(overrides or {})).to_dict()
    parts = config.get("components") or [_own_component(config)]
    same_scenario = [p["scenario_params"] == params for p in parts]
    same_catalog = [_same_catalog(p["catalog_meta"], here) for p in parts]
    if any(a and b for a, b in zip(same_scenario, same_catalog, strict=True)):
        return None  # a mixture is at home on any of its (scenario, catalog) pairs
    differs = [k for k, same in (("scenario", same_scenario), ("catalog", same_catalog)) if not any(same)]
    if len(parts) == 1:
        trained_on = _label(parts[0]["scenario"], parts[0]["catalog_meta"])
    else:
        trained_on = f"a mixture of {len(parts)}: " + "; ".join(_label(p["scenario"], p["catalog_meta"]) for p in parts)
    return {"differs": differs or ["scenario and catalog pair"], "trained_on": trained_on, "evaluated_on": evaluated_on}


def _own_component(config: dict[str, Any]) -> dict[str, Any]:
    """A single policy's training record in a mixture component's shape."""
    trained_params = config.get("scenario_params")
    if trained_params is None:  # policies saved before the resolved parameters were recorded
        try:
            trained_params = make_scenario(config["scenario"], **config.get("overrides", {})).to_dict()
        except (ValueError, OSError):
            trained_params = None
    return {
        "scenario": str(config["scenario"]),
        "scenario_params": trained_params,
        "catalog_meta": config.get("catalog_meta", {}),
    }


def _same_catalog(trained: dict[str, Any], here: dict[str, Any]) -> bool:
    if "digest" in trained:
        return trained["digest"] == here["digest"]
    # records saved before the digest was: the source and size must match
    return trained.get("source") == here["source"] and trained.get("num_items") == here["num_items"]


def transfer_notes(notes: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One line per (scenario, agent) that ran a policy trained elsewhere (``notes[scenario][agent]``)."""
    lines = []
    for scenario, agents in notes.items():
        for agent, t in agents.items():
            lines.append(
                f"{agent} (transfer) on {scenario}: trained on {t['trained_on']}, evaluated on {t['evaluated_on']} "
                f"({' and '.join(t['differs'])} differ)"
            )
    return "\n".join(lines)
