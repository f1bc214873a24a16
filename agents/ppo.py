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
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import torch

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


def make_ppo(venv: Any, hyper: dict[str, Any] | None = None, seed: int = 0, device: str = "cpu", **kw: Any) -> Any:
    """A fresh SB3 PPO with ``PPO_DEFAULTS`` updated by ``hyper`` on the SB3 VecEnv ``venv``."""
    from stable_baselines3 import PPO

    h = {**PPO_DEFAULTS, **(hyper or {})}
    unknown = set(h) - set(PPO_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown PPO settings {sorted(unknown)}; allowed: {', '.join(PPO_DEFAULTS)}")
    net_arch = list(h.pop("net_arch"))
    return PPO("MlpPolicy", venv, policy_kwargs={"net_arch": net_arch}, seed=seed, device=device, verbose=0, **h, **kw)


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
        if tuple(env.observation_space.shape) != expected:
            raise ValueError(
                f"the policy expects observations of shape {expected}, the env gives {env.observation_space.shape}"
            )

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
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=".tmp.zip", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return p

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
        from stable_baselines3 import PPO

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                config = json.loads(z.read(CONFIG_ENTRY)) if CONFIG_ENTRY in z.namelist() else {}
        except zipfile.BadZipFile as exc:
            raise ValueError("not a zip file") from exc
        model = PPO.load(io.BytesIO(data), device=device)
        return cls(model, config, name)
