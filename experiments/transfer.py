"""Where a trained policy came from, and whether an evaluation runs it somewhere else.

A policy file records what it was trained on (``train`` puts the scenario's resolved parameters
and the catalog's description and digest in its config). ``transfer`` compares that with the
scenario and catalog of an evaluation: ``simulate`` and ``compare`` mark such rows in their tables
and record the difference in summary.json, instead of running a policy on another catalog silently.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from driftrec.simulators.catalog import Catalog
from driftrec.simulators.scenarios import make_scenario


def catalog_digest(catalog: Catalog) -> str:
    """sha256 (16 hex digits) of the catalog's vectors: equal digests, the same items in the same space."""
    h = hashlib.sha256(catalog.embeddings.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def describe_catalog(catalog: Catalog) -> dict[str, Any]:
    """What a training record keeps of a catalog: source, size, dimension, transform and digest."""
    return {
        "source": str(catalog.meta.get("source", "given")),
        "num_items": catalog.num_items,
        "dim": catalog.dim,
        "transform": catalog.meta.get("transform"),
        "digest": catalog_digest(catalog),
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
    if "components" in config:  # a training mixture: at home on any of its (scenario, catalog) pairs
        parts = config["components"]
        if any(p["scenario_params"] == params and p["catalog_meta"]["digest"] == here["digest"] for p in parts):
            return None
        differs = [
            key
            for key, same in (
                ("scenario", any(p["scenario_params"] == params for p in parts)),
                ("catalog", any(p["catalog_meta"]["digest"] == here["digest"] for p in parts)),
            )
            if not same
        ] or ["scenario and catalog pair"]
        labels = "; ".join(_label(p["scenario"], p["catalog_meta"]) for p in parts)
        return {"differs": differs, "trained_on": f"a mixture of {len(parts)}: {labels}", "evaluated_on": evaluated_on}
    trained_params = config.get("scenario_params")
    if trained_params is None:  # policies saved before the resolved parameters were recorded
        try:
            trained_params = make_scenario(config["scenario"], **config.get("overrides", {})).to_dict()
        except (ValueError, OSError):
            trained_params = None
    cat = config.get("catalog_meta", {})
    differs = []
    if trained_params != params:
        differs.append("scenario")
    same_catalog = (
        cat.get("digest") == here["digest"]
        if "digest" in cat
        else (cat.get("source") == here["source"] and cat.get("num_items") == here["num_items"])
    )
    if not same_catalog:
        differs.append("catalog")
    if not differs:
        return None
    return {"differs": differs, "trained_on": _label(str(config["scenario"]), cat), "evaluated_on": evaluated_on}


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
