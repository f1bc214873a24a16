"""PPOWeights: a learned, state-dependent weight policy (stable-baselines3 PPO).

The policy maps the 11 observation features (``driftrec.simulators.recommender.FEATURE_NAMES``)
to a Box(-1, 1, (3,)) action; the weights are ``(a + 1) / 2`` (alpha, mix, explore). It is
trained on the batched env through the SB3 adapter, one SB3 "env" per simulated user, so a
rollout of ``n_steps`` steps over N users gives ``n_steps * N`` samples.

Hyperparameters are sized for many parallel users: short rollouts (``n_steps=32``) over many users
(256 by default) give 8,192 samples per update, split into minibatches of 2,048 for 5 epochs;
``gamma=0.95`` (a horizon of about 20 steps: long enough to pay for exploring after an interest
shift), ``gae_lambda=0.9`` and a learning rate of 1e-3 (with SB3's 3e-4 the policy was still far
from converged after 2M user-steps on ``abrupt``). Evaluation is deterministic (the mean action).

A saved policy is one file: SB3's zip with the driftrec configuration (scenario, training
settings, hyperparameters) added as ``driftrec.json``, written atomically.

Loading never unpickles. SB3 stores some entries of the zip's ``data`` as cloudpickle blobs, which
``PPO.load`` would execute; ``load_ppo`` reads ``data`` as plain JSON, rebuilds every serialised
entry it knows from driftrec's own classes and the entry's readable fields (spaces, constant
schedules), refuses a file with any other serialised entry, and lets SB3 read the network weights
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from driftrec.encoders.atomic import atomic_write
from driftrec.encoders.checks import check_int, check_number
from driftrec.envs.batched import DriftVecEnv

PPO_DEFAULTS: dict[str, Any] = {
    "n_steps": 32,
    "batch_size": 2048,
    "n_epochs": 5,
    "learning_rate": 1e-3,
    "gamma": 0.95,
    "gae_lambda": 0.9,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "net_arch": [64, 64],
}
"""PPO settings for N = 256 parallel users (see module docstring)."""

CONFIG_ENTRY = "driftrec.json"


_RANGES: dict[str, tuple[type, float, float]] = {
    "n_steps": (int, 1, math.inf),
    "batch_size": (int, 2, math.inf),
    "n_epochs": (int, 1, math.inf),
    "learning_rate": (float, 0.0, 1.0),
    "gamma": (float, 0.0, 1.0),
    "gae_lambda": (float, 0.0, 1.0),
    "clip_range": (float, 0.0, math.inf),
    "ent_coef": (float, 0.0, math.inf),
}
_OPEN_LOW = {"learning_rate", "gamma", "clip_range"}


def check_ppo_settings(hyper: dict[str, Any]) -> dict[str, Any]:
    """``PPO_DEFAULTS`` updated by ``hyper`` after checking every name, type and range (one-line
    errors naming the setting, the value and what is allowed)."""
    if not isinstance(hyper, dict):
        raise TypeError(f"PPO settings must be a mapping of names to values, got {type(hyper).__name__}")
    unknown = set(hyper) - set(PPO_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown PPO settings {sorted(unknown)}; allowed: {', '.join(PPO_DEFAULTS)}")
    h = {**PPO_DEFAULTS, **hyper}
    for key, (kind, lo, hi) in _RANGES.items():
        if kind is int:
            check_int(f"PPO setting {key}", h[key], int(lo))
        else:
            check_number(f"PPO setting {key}", h[key], lo, hi, lo_open=key in _OPEN_LOW)
    arch = h["net_arch"]
    if (
        not isinstance(arch, (list, tuple))
        or not arch
        or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in arch)
    ):
        raise ValueError(f"PPO setting net_arch={arch!r} is not allowed; it must be a list of positive layer widths")
    return h


def apply_resume_settings(model: Any, checkpoint: dict[str, Any], hyper: dict[str, Any]) -> dict[str, Any]:
    """Apply the PPO settings ``hyper`` that a resumed run can change to the loaded ``model``;
    raise for those it cannot (the network shape, the rollout length). ``checkpoint``: the
    checkpoint's own settings. Returns the settings the resumed run trains with."""
    from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule

    check_ppo_settings(hyper)
    effective = dict(checkpoint)
    for key, value in hyper.items():
        if key in ("net_arch", "n_steps"):
            same = list(value) == list(checkpoint[key]) if key == "net_arch" else value == checkpoint[key]
            if not same:
                raise ValueError(
                    f"--resume cannot change {key} (the checkpoint has {checkpoint[key]!r}, got {value!r}); "
                    "train a new policy instead"
                )
            continue
        effective[key] = value
        if key == "learning_rate":
            model.learning_rate = value
            model.lr_schedule = FloatSchedule(ConstantSchedule(float(value)))
        elif key == "clip_range":
            model.clip_range = FloatSchedule(ConstantSchedule(float(value)))
        else:
            setattr(model, key, value)
            if key in ("gamma", "gae_lambda"):
                setattr(model.rollout_buffer, key, value)
    return effective


def checkpoint_settings(model: Any) -> dict[str, Any]:
    """The PPO settings a loaded SB3 PPO trains with (the keys of ``PPO_DEFAULTS``)."""
    arch = model.policy_kwargs.get("net_arch", PPO_DEFAULTS["net_arch"])
    return {
        "n_steps": int(model.n_steps),
        "batch_size": int(model.batch_size),
        "n_epochs": int(model.n_epochs),
        "learning_rate": float(model.lr_schedule(1.0)),
        "gamma": float(model.gamma),
        "gae_lambda": float(model.gae_lambda),
        "clip_range": float(model.clip_range(1.0)),
        "ent_coef": float(model.ent_coef),
        "net_arch": list(arch),
    }


def make_ppo(venv: Any, hyper: dict[str, Any] | None = None, seed: int = 0, device: str = "cpu", **kw: Any) -> Any:
    """A fresh SB3 PPO with ``PPO_DEFAULTS`` updated by ``hyper`` on the SB3 VecEnv ``venv``."""
    from stable_baselines3 import PPO

    h = check_ppo_settings(hyper or {})
    net_arch = list(h.pop("net_arch"))
    return PPO("MlpPolicy", venv, policy_kwargs={"net_arch": net_arch}, seed=seed, device=device, verbose=0, **h, **kw)


def _box_from_json(key: str, entry: dict[str, Any], low: np.ndarray, high: np.ndarray) -> Any:
    """driftrec's Box(low, high) after checking that the file's readable fields describe it."""
    from gymnasium import spaces

    def values(field: str) -> list[float]:
        text = str(entry.get(field, ""))
        if "..." in text or not text.startswith("["):
            raise ValueError(f"its {key} has no readable {field} ({text[:40]!r})")
        return [float(v) for v in text.strip("[]").split()]

    shape = list(entry.get("_shape") or [])
    want = [len(low)]
    if shape != want or values("low") != low.tolist() or values("high") != high.tolist():
        raise ValueError(
            f"its {key} is a box of shape {shape} in [{entry.get('low')}, {entry.get('high')}]; driftrec weight "
            f"policies use shape {want} in [{low.tolist()}, {high.tolist()}]"
        )
    return spaces.Box(low, high, (len(low),), np.float32)


def _constant_schedule(key: str, entry: dict[str, Any]) -> Any:
    from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule

    m = re.fullmatch(r"ConstantSchedule\(val=([-+0-9.eE]+)\)", str(entry.get("value_schedule", "")))
    if m is None:
        raise ValueError(f"its {key} is not a constant schedule ({entry.get('value_schedule')!r})")
    return FloatSchedule(ConstantSchedule(float(m.group(1))))


def safe_custom_objects(data: bytes) -> dict[str, Any]:
    """Replacements for every cloudpickle entry of the SB3 zip ``data``, so that ``PPO.load`` with
    them unpickles nothing. Raises ValueError for a file that is not a driftrec weight policy or
    that holds a serialised entry driftrec does not know."""
    from stable_baselines3.common.buffers import RolloutBuffer
    from stable_baselines3.common.policies import ActorCriticPolicy

    from driftrec.simulators.recommender import FEATURE_HIGH, FEATURE_LOW

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            params = json.loads(z.read("data"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an SB3 policy zip ({exc})") from exc
    if not isinstance(params, dict):
        raise ValueError("its data entry is not a JSON object")
    kwargs = params.get("policy_kwargs", {})
    if not isinstance(kwargs, dict) or set(kwargs) - {"net_arch"}:
        raise ValueError(f"its policy_kwargs {kwargs!r} hold more than net_arch")
    rebuild = {
        "policy_class": lambda e: ActorCriticPolicy,
        "observation_space": lambda e: _box_from_json(
            "observation_space", e, FEATURE_LOW.numpy(), FEATURE_HIGH.numpy()
        ),
        "action_space": lambda e: _box_from_json("action_space", e, -np.ones(3, np.float32), np.ones(3, np.float32)),
        "lr_schedule": lambda e: _constant_schedule("lr_schedule", e),
        "clip_range": lambda e: _constant_schedule("clip_range", e),
        "rollout_buffer_class": lambda e: RolloutBuffer,
        # training state that SB3 rebuilds when these are None (a resumed run restarts its users)
        "_last_obs": lambda e: None,
        "_last_episode_starts": lambda e: None,
        "ep_info_buffer": lambda e: None,
        "ep_success_buffer": lambda e: None,
    }
    custom: dict[str, Any] = {}
    for key, entry in params.items():
        if isinstance(entry, dict) and ":serialized:" in entry:
            if key not in rebuild:
                raise ValueError(
                    f"it holds a pickled entry {key!r} that driftrec does not know; loading it would run code, "
                    f"so it is refused (known: {', '.join(rebuild)})"
                )
            custom[key] = rebuild[key](entry)
    if "policy_class" not in custom:
        raise ValueError("it names no policy class")
    return custom


def load_ppo(data: bytes, device: str = "cpu", **kw: Any) -> Any:
    """An SB3 PPO from the bytes of a saved policy or checkpoint, without unpickling anything
    (see the module docstring); ``kw`` go to ``PPO.load`` (env, tensorboard_log, ...)."""
    from stable_baselines3 import PPO

    return PPO.load(io.BytesIO(data), device=device, custom_objects=safe_custom_objects(data), **kw)


class PPOWeights:
    """A trained PPO weight policy as a driftrec agent (deterministic: the policy's mean action).

    Args:
        model: a stable-baselines3 PPO whose action space is Box(-1, 1, (3,)).
        config: what it was trained on (recorded when saved).
        name: the agent's name in tables.
    """

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, model: Any, config: dict[str, Any] | None = None, name: str = "ppo") -> None:
        self.model = model
        self.config = dict(config or {})
        self.name = name

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        expected = tuple(self.model.observation_space.shape)
        given = tuple(env.single_observation_space.shape)
        if given != expected:
            raise ValueError(f"the policy expects observations of shape {expected}, the env gives {given}")

    @torch.no_grad()
    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        """Weights (N, 3) in [0, 1] for observations ``obs`` (N, F)."""
        policy = self.model.policy
        policy.set_training_mode(False)
        a = policy._predict(obs.to(policy.device, torch.float32), deterministic=True)
        return ((a.clamp(-1.0, 1.0) + 1.0) / 2.0).to(obs.device, torch.float32)

    def to_bytes(self) -> bytes:
        """The policy and its config as the bytes of the one-file zip that ``save`` writes."""
        buf = io.BytesIO()
        self.model.save(buf)
        with zipfile.ZipFile(buf, "a") as z:
            z.writestr(CONFIG_ENTRY, json.dumps(self.config, indent=2, default=str))
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the policy and its config to one file, atomically (a .zip suffix is added if missing)."""
        p = Path(path)
        if p.suffix != ".zip":
            p = p.with_name(p.name + ".zip")
        data = self.to_bytes()
        return atomic_write(p, lambda tmp: Path(tmp).write_bytes(data))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", name: str = "ppo") -> PPOWeights:
        """Load a policy written by ``save`` (or by ``driftrec train``)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such policy file: {str(p)!r}")
        try:
            return cls.from_bytes(p.read_bytes(), device, name)
        except ValueError as exc:
            raise ValueError(f"{str(p)!r} is not a saved policy ({exc})") from exc

    @classmethod
    def from_bytes(cls, data: bytes, device: str = "cpu", name: str = "ppo") -> PPOWeights:
        """A policy from the bytes of a saved policy file (``to_bytes``)."""
        return cls(load_ppo(data, device), policy_config(data), name)


def policy_config(data: bytes) -> dict[str, Any]:
    """The driftrec configuration (what it was trained on) in the bytes of a saved policy file,
    without loading the network; {} for a bare SB3 zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if CONFIG_ENTRY not in z.namelist():
                return {}
            config = json.loads(z.read(CONFIG_ENTRY))
    except zipfile.BadZipFile as exc:
        raise ValueError("not a zip file") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"its {CONFIG_ENTRY} is not JSON") from exc
    if not isinstance(config, dict):
        raise ValueError(f"its {CONFIG_ENTRY} is not a JSON object")
    return config
