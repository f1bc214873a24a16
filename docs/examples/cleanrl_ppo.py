"""CleanRL-style PPO on driftrec's vector env: one file, plain torch, no RL framework.

    python docs/examples/cleanrl_ppo.py --total-timesteps 100000

The loop follows cleanrl's ``ppo_continuous_action.py``. The env is
``gymnasium.make_vec("driftrec/DriftingInterests-v0", num_envs=N)`` (numpy in and out, users reset
in the same step), wrapped as CleanRL wraps its envs: ``RecordEpisodeStatistics``, then
``RescaleAction`` to [-1, 1] (the weights are in [0, 1]) and ``ClipAction``. At the end the policy's
mean action and random weights run on the same held-out users, and both click rates are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.wrappers import vector as vw
from torch import nn
from torch.distributions.normal import Normal

import driftrec


def arg(default: object, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class Args:
    scenario: str = arg("abrupt", "driftrec preset the users follow")
    num_envs: int = arg(64, "users stepped at once")
    num_steps: int = arg(32, "steps per user per rollout")
    total_timesteps: int = arg(100_000, "user-steps of training")
    learning_rate: float = arg(1e-3, "Adam step size")
    gamma: float = arg(0.95, "discount")
    gae_lambda: float = arg(0.9, "GAE lambda")
    num_minibatches: int = arg(4, "minibatches per epoch")
    update_epochs: int = arg(4, "epochs per rollout")
    clip_coef: float = arg(0.2, "PPO clip range")
    vf_coef: float = arg(0.5, "value-loss weight")
    max_grad_norm: float = arg(0.5, "gradient-norm clip")
    seed: int = arg(1, "training seed (users, network, sampling)")
    eval_seed: int = arg(1001, "seed of the held-out users of the final comparison")
    eval_steps: int = arg(200, "steps of the final comparison")


def make_envs(args: Args, num_envs: int) -> gymnasium.vector.VectorEnv:
    envs = gymnasium.make_vec(driftrec.ENV_ID, num_envs=num_envs, scenario=args.scenario)
    envs = vw.RecordEpisodeStatistics(envs)
    envs = vw.RescaleAction(envs, np.float32(-1.0), np.float32(1.0))
    return vw.ClipAction(envs)


def layer(n_in: int, n_out: int, std: float = 2**0.5) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.zeros_(lin.bias)
    return lin


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_act: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(layer(n_obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
        self.actor_mean = nn.Sequential(layer(n_obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, n_act, 0.01))
        self.actor_logstd = nn.Parameter(torch.zeros(1, n_act))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def act(self, x: torch.Tensor, action: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        mean = self.actor_mean(x)
        dist = Normal(mean, self.actor_logstd.expand_as(mean).exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.value(x)


def train(args: Args, verbose: bool = True) -> Agent:
    """PPO on ``args.num_envs`` users for ``args.total_timesteps`` user-steps; returns the agent."""
    torch.manual_seed(args.seed)
    envs = make_envs(args, args.num_envs)
    n_obs, n_act = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = Agent(n_obs, n_act)
    opt = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    n, t_len = args.num_envs, args.num_steps
    obs_buf = torch.zeros(t_len, n, n_obs)
    act_buf = torch.zeros(t_len, n, n_act)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(t_len, n) for _ in range(4))
    batch = n * t_len
    minibatch = batch // args.num_minibatches
    obs, _ = envs.reset(seed=args.seed)
    next_obs, next_done = torch.as_tensor(obs), torch.zeros(n)
    start, returns = time.time(), []
    for update in range(max(1, args.total_timesteps // batch)):
        for t in range(t_len):
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            obs, reward, terminated, truncated, info = envs.step(action.numpy())
            rew_buf[t] = torch.as_tensor(reward)
            next_obs = torch.as_tensor(obs)
            next_done = torch.as_tensor(terminated | truncated, dtype=torch.float32)
            if "episode" in info:
                returns.extend(info["episode"]["r"][info["_episode"]].tolist())
        with torch.no_grad():  # generalised advantage estimation
            next_value = agent.value(next_obs)
            adv = torch.zeros(t_len, n)
            last = torch.zeros(n)
            for t in reversed(range(t_len)):
                nonterminal = 1.0 - (next_done if t == t_len - 1 else done_buf[t + 1])
                nv = next_value if t == t_len - 1 else val_buf[t + 1]
                delta = rew_buf[t] + args.gamma * nv * nonterminal - val_buf[t]
                adv[t] = last = delta + args.gamma * args.gae_lambda * nonterminal * last
            ret = adv + val_buf
        b_obs, b_act = obs_buf.reshape(batch, n_obs), act_buf.reshape(batch, n_act)
        b_logp, b_adv, b_ret = logp_buf.reshape(batch), adv.reshape(batch), ret.reshape(batch)
        for _ in range(args.update_epochs):
            for idx in torch.randperm(batch).split(minibatch):
                _, logp, _, value = agent.act(b_obs[idx], b_act[idx])
                ratio = (logp - b_logp[idx]).exp()
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                v_loss = 0.5 * ((value - b_ret[idx]) ** 2).mean()
                loss = pg_loss + args.vf_coef * v_loss
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                opt.step()
        if verbose and returns:
            steps = (update + 1) * batch
            speed = steps / (time.time() - start)
            print(f"{steps:>9,} user-steps  episode return {np.mean(returns[-n:]):7.2f}  {speed:,.0f}/s")
    envs.close()
    return agent


def clicks_per_step(args: Args, agent: Agent | None) -> float:
    """Mean clicks per user-step on the held-out users: the policy's mean action, or random weights."""
    envs = make_envs(args, args.num_envs)
    obs, _ = envs.reset(seed=args.eval_seed)
    envs.action_space.seed(args.eval_seed)
    total = 0.0
    for _ in range(args.eval_steps):
        if agent is None:
            action = envs.action_space.sample()
        else:
            with torch.no_grad():
                action = agent.actor_mean(torch.as_tensor(obs)).numpy()
        obs, reward, *_ = envs.step(action)
        total += float(reward.mean())
    envs.close()
    return total / args.eval_steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, type=type(f.default), default=f.default, help=f"{f.metadata['help']} [{f.default}]")
    args = Args(**vars(parser.parse_args(argv)))
    agent = train(args)
    ppo, rnd = clicks_per_step(args, agent), clicks_per_step(args, None)
    print(f"held-out users, {args.eval_steps} steps: ppo {ppo:.4f} clicks/step, random weights {rnd:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
