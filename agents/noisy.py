"""NoisyWeights: a stochastic weight policy with an exact density, for logging and for targets.

Around a base weights agent's choice ``m`` (N, 3), each weight is drawn from a logit-normal::

    w = sigmoid(logit(m) + scale * z),   z ~ N(0, 1) independent per user, step and weight

with density ``p(w) = phi((logit(w) - logit(m)) / scale) / (scale * w * (1 - w))``, so every weight
vector in (0, 1)^3 has positive density: a log drawn this way supports any other weight policy,
which sequential off-policy estimates need (``experiments.offline.sequential``). ``m`` is clipped
to [MEAN_FLOOR, 1 - MEAN_FLOOR] = [0.02, 0.98] before the logit: a base weight of 0 or 1 has no logit,
and near the ends the logit stretches what is one behaviour (explore 0.001 and 0.01 are 2.3 apart in
logit space, and a target that differs from the logging policy only there would get weights in the
thousands). The noisy logit is clipped to [-LOGIT_BOUND, LOGIT_BOUND], so that float32 weights stay
strictly inside (0, 1); with ``scale <= 1`` the clip changes a weight's distribution by less than 1e-18.

The draws are counter-based (``simulators.rng``): user ``i``'s noise depends on the agent's seed,
``i`` and the step alone, not on the batch size or the device.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from driftrec.agents.base import Agent
from driftrec.encoders.checks import check_number
from driftrec.envs.batched import DriftVecEnv
from driftrec.simulators.rng import CounterRNG, seeds_to_keys, user_seeds

MEAN_FLOOR = 0.02
LOGIT_BOUND = 16.0
_DOMAIN = 0x6E015E  # the generator's "episode": its draws never coincide with the env's own streams
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def mean_logit(mean: torch.Tensor) -> torch.Tensor:
    """logit of ``mean`` (any shape, weights in [0, 1]) after clipping to [MEAN_FLOOR, 1 - MEAN_FLOOR]."""
    return torch.logit(mean.to(torch.float64).clamp(MEAN_FLOOR, 1.0 - MEAN_FLOOR))


def logit_normal_log_prob(weights: torch.Tensor, mean: torch.Tensor, scale: float) -> torch.Tensor:
    """Log-density (float64, shape ``weights.shape[:-1]``) of ``weights`` (..., A) in (0, 1) under
    independent logit-normals of centre ``mean`` (..., A) (``mean_logit``) and logit-space ``scale``,
    summed over the last dimension."""
    w = weights.to(torch.float64)
    y = torch.logit(w)
    u = (y - mean_logit(mean)) / scale
    per = -0.5 * u * u - math.log(scale) - _LOG_SQRT_2PI - torch.log(w) - torch.log1p(-w)
    return per.sum(-1)


class NoisyWeights:
    """Logit-normal noise of logit-space ``scale`` around a base weights agent (see the module).

    Args:
        base: a weights-mode agent (``FixedWeights``, ``PPOWeights``, ...): the noise's centre.
        scale: logit-space standard deviation, in (0, 1] (0.5 moves a weight of 0.3 to about
            [0.14, 0.53] for 95% of the draws).
        name: the agent's name in tables (default ``"<base>+noise<scale>"``).

    After each ``act``, ``last_log_prob`` (N,) float64 is the exact log-density of the weights it
    returned (``logit_normal_log_prob`` of the float32 weights) and ``last_mean`` (N, 3) the base's
    weights.
    """

    action_mode: ClassVar[str] = "weights"
    needs_hidden: ClassVar[bool] = False

    def __init__(self, base: Agent, scale: float, name: str | None = None) -> None:
        if getattr(base, "action_mode", None) != "weights" or getattr(base, "needs_hidden", False):
            raise ValueError(f"NoisyWeights needs a weights agent that does not read the hidden state, got {base!r}")
        self.scale = check_number("scale", scale, 0.0, 1.0, lo_open=True)
        self.base = base
        self.name = name or f"{getattr(base, 'name', 'agent')}+noise{self.scale:g}"
        self._rng: CounterRNG | None = None
        self.last_log_prob: torch.Tensor | None = None
        self.last_mean: torch.Tensor | None = None

    def reset(self, env: DriftVecEnv, seed: int) -> None:
        self.base.reset(env, seed)
        keys = seeds_to_keys(user_seeds(seed, env.num_users), device=env.device)
        self._rng = CounterRNG(keys, torch.full_like(keys, _DOMAIN))
        self._t = 0

    def act(self, obs: torch.Tensor, info: dict[str, Any]) -> torch.Tensor:
        """Weights (N, 3) float32 in (0, 1), drawn around the base's weights for ``obs``."""
        if self._rng is None:
            raise RuntimeError("call reset(env, seed) before act()")
        mean = self.base.act(obs, info)
        z = self._rng.at(torch.full_like(self._rng.keys, self._t)).normal(0, (mean.shape[1],), torch.float64)
        self._t += 1
        y = (mean_logit(mean) + self.scale * z).clamp(-LOGIT_BOUND, LOGIT_BOUND)
        w = torch.sigmoid(y).to(torch.float32)
        self.last_mean = mean
        self.last_log_prob = logit_normal_log_prob(w, mean, self.scale)
        return w

    def __repr__(self) -> str:
        return f"NoisyWeights({self.base!r}, scale={self.scale})"
