"""The SB3 callback of ``train``: progress, checkpoints, TensorBoard scalars, evaluations during
training, and the split of learning's time (env, SB3's updates, evaluations)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from driftrec.agents.ppo import PPOWeights
from driftrec.simulators.state import WEIGHT_NAMES

if TYPE_CHECKING:
    from driftrec.experiments.online.train import TrainConfig


def _next(n: int, every: int) -> int:
    """The first multiple of ``every`` above ``n`` (0 when ``every`` is 0: never)."""
    return (n // every + 1) * every if every else 0


def make_callback(
    cfg: TrainConfig,
    out: Path | None,
    progress: bool,
    start: int,
    evaluate: Any,
    env_seconds: Any,
    evaluations: list[dict[str, Any]],
) -> Any:
    """The callback of a ``train`` run (``TrainCallback``): ``start`` is the user-steps done
    before (a resumed run's), ``evaluate(model)`` gives an evaluation's row, ``env_seconds()`` the
    env's time so far, and the evaluations are appended to ``evaluations``."""
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class TrainCallback(BaseCallback):
        """Progress bar over user-steps, atomic checkpoints every ``checkpoint_every``, driftrec's
        TensorBoard scalars per rollout (clicks per step, mean weights, the env's and the updates'
        shares so far), the evaluations every ``eval_every`` (their time in ``eval_seconds``), and
        ``update_seconds``: the time SB3 spends between rollouts (its gradient updates, and its
        logging) and after the last one."""

        def _on_training_start(self) -> None:
            self.bar = tqdm(total=cfg.timesteps, initial=start, desc="train", unit="step", disable=not progress)
            self.next_ckpt = _next(start, cfg.checkpoint_every)
            self.next_eval = _next(start, cfg.eval_every)
            self.began, self.env_began = time.perf_counter(), env_seconds()
            self.update_seconds, self.eval_seconds, self._rollout_ended = 0.0, 0.0, None
            self._zero()

        def _zero(self) -> None:
            self.clicks, self.weights, self.count = 0.0, np.zeros(3), 0

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            self.clicks += float(self.locals["rewards"].sum())
            self.weights += ((self.locals["clipped_actions"] + 1.0) * 0.5).sum(0)
            self.count += self.training_env.num_envs
            n = self.num_timesteps
            if out is not None and self.next_ckpt and n >= self.next_ckpt:
                PPOWeights(self.model, cfg.to_dict()).save(out / "checkpoints" / f"step_{n:010d}.zip")
                self.next_ckpt = _next(n, cfg.checkpoint_every)
            if self.next_eval and n >= self.next_eval:
                began = time.perf_counter()
                row = {"timesteps": n, **evaluate(self.model)}
                self.eval_seconds += time.perf_counter() - began
                evaluations.append(row)
                for key in ("ppo", "fixed", "diff_vs_fixed"):
                    self.logger.record(f"driftrec/eval_{key}", row[key])
                self.next_eval = _next(n, cfg.eval_every)
            return True

        def _on_rollout_start(self) -> None:
            self._updates_done()

        def _updates_done(self) -> None:
            if self._rollout_ended is not None:
                self.update_seconds += time.perf_counter() - self._rollout_ended
                self._rollout_ended = None

        def _on_rollout_end(self) -> None:
            self._rollout_ended = time.perf_counter()
            if self.count:
                self.logger.record("driftrec/clicks_per_step", self.clicks / self.count)
                for name, value in zip(WEIGHT_NAMES, self.weights / self.count, strict=True):
                    self.logger.record(f"driftrec/{name}", float(value))
            wall = time.perf_counter() - self.began
            if wall > 0:
                self.logger.record("driftrec/env_share", (env_seconds() - self.env_began) / wall)
                self.logger.record("driftrec/update_share", self.update_seconds / wall)
            self._zero()

        def _on_training_end(self) -> None:
            self._updates_done()
            self.bar.close()

    return TrainCallback()
