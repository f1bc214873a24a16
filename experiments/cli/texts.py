"""What each ``driftrec`` subcommand says of itself: its line in ``driftrec --help`` and the
description of its own ``--help`` (argparse %-formats both, so a bare % is written %%)."""

COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": (
        "the main job: train a small PPO weight policy and compare it with fixed weights",
        "Run `compare` with the built-in quickstart config (experiments/configs/quickstart.yaml): on MovieLens's "
        "9,061 movies under all-MiniLM-L6-v2 (pca:64; the first run encodes and caches the titles; without the "
        "model package the hashing encoder stands in, with a warning), for the abrupt and stable scenarios, tune "
        "the fixed weights on a grid, train a small PPO weight policy per scenario (half of its users on "
        "MovieLens, half on the synthetic catalog), and compare them with the default fixed-alpha baseline, the "
        "change-detection rule, the weights-oracle, the oracle and a random recommender on held-out seeds; print "
        "the table and write results and plots to --out. The flags below override the config: --catalog synthetic"
        " evaluates on 1,000 generated items under the hashing encoder (PPO still trains on both catalogs).",
    ),
    "simulate": (
        "run agents on scenarios over seeds; table, summary.json, CSV, plot",
        "Run each agent on each scenario for each seed with common random numbers, print mean clicks per step "
        "with 95% CIs over seeds and the beyond-click metrics (catalog coverage, intra-list diversity, novelty, "
        "session length, churn rate), and write config.json, summary.json (results[scenario][agent] = {mean, "
        "ci95, n_seeds, per_seed, metrics}), runs.csv, curves.csv, clicks_over_time.png and beyond_clicks.png to "
        "--out.",
    ),
    "train": (
        "train a PPO weight policy on a scenario, or one policy on a mixture (TensorBoard, checkpoints, resume)",
        "Train a stable-baselines3 PPO policy that picks the weights (alpha, mix, explore) for each user at each "
        "step from the 11 observation features, on the batched env (one SB3 env per user). Writes policy.zip (the"
        " policy and its config, one file), train.json, checkpoints/step_*.zip every --checkpoint-every steps and"
        " TensorBoard logs (tensorboard --logdir OUT/tb: SB3's scalars and driftrec's, clicks per step, mean "
        "alpha, mix and explore, env share, and every --eval-every steps the policy against the fixed weights on "
        "the same held-out users) to --out. --resume CKPT continues from a checkpoint up to --timesteps in all "
        "(--resume latest: the newest checkpoint in --out). --seeds S1,S2,... runs one training per seed as units"
        " on --backend (local processes or Ray) into OUT/seed_S/, and a re-run reuses the finished seeds. Steps "
        "are user-steps. A comma-separated --scenario and/or --catalog trains one policy on a mixture: every "
        "(scenario, catalog) pair gets an even share of the --users, side by side in every rollout.",
    ),
    "compare": (
        "paired comparison of agents over scenarios and held-out seeds (tuned fixed weights, PPO, ...)",
        "For each scenario: tune the fixed weights on a grid (tuning seeds) to get best-fixed, train (or load) a "
        "PPO policy, then run every agent on the same users of every evaluation seed (common random numbers). "
        "Prints mean clicks per step with 95% CIs over seeds, the paired difference against best-fixed with its "
        "95% CI, the share of the oracle gap closed (and of the weights-oracle's gain, when it runs), and the "
        "beyond-click metrics. Writes config.json (resolved), summary.json, runs.csv, curves.csv, aligned.csv, "
        "weights.csv, tuning.csv, clicks_over_time.png, shift_aligned.png (clicks and alpha around interest "
        "shifts), beyond_clicks.png and weights_over_time.png to --out. Settings come from --config (YAML or JSON"
        " with the keys scenarios, agents, seeds, users, steps, catalog, population, items, dim, fixed_weights, "
        "overrides, tuning {seeds, users, steps, grid}, ppo {policy | policies | timesteps, users, seed, hyper});"
        " the flags below override it.",
    ),
    "scenarios": (
        "list the scenario presets and their parameters",
        "List the scenario presets with a description each; --json prints every parameter.",
    ),
    "calibrate": (
        "measure real interest drift (MovieLens or your log) and fit the simulator to it",
        "Measure how the embedding centroid of each user's recent items moves (MovieLens, or an interaction log "
        "given with --timelines and its --catalog file) (blocks of --block rated items: cosine between centroids "
        "L blocks apart, movement per block, jump rate; per active day too), simulate self-directed timelines "
        "(each user picks one item per step with probability proportional to its attraction), grid-search beta, "
        "drift_scale and shift_hazard to match the real medians, and write summary.json (fitted parameters next "
        "to the real and simulated statistics, and whether each simulated median lies within the real 10th-90th "
        "percentile), grid.csv, NAME_scenario.json (movielens_scenario.json, or the log file's stem) and "
        "calibration.png to --out.",
    ),
    "log": (
        "write a trajectory log (one row per shown item, with propensities) as parquet",
        "Run a logging policy on a scenario and write one row per shown item to --out (parquet, written "
        "atomically): run, slate_id, step, user, episode, position, action (item index), reward (click), pscore "
        "(the logging policy's probability of that item at that position), the weights chosen (alpha, mix, "
        "explore), the observation the agent acted on (context_*), whether the episode ended there (terminated, "
        "truncated) and the observation the step led to (next_context_*). The columns map one-to-one onto obp's "
        "bandit feedback. The run's settings are stored in the file's metadata, so `driftrec ope` can evaluate "
        "other weightings on it. --minari ID also writes it as a Minari dataset for offline RL (one episode per "
        "user episode; needs minari[create]).",
    ),
    "ope": (
        "off-policy estimates of target policies from a log (or --validate against the simulator)",
        "Estimate target policies' values from logged data with IPS, SNIPS, DM and DR (and replay, position-wise "
        "IPS on request), each with a bootstrap 95% interval; print a table and write summary.json, estimates.csv"
        " and estimates.png to --out. Logs: a driftrec log (targets: [NAME:]alpha=A,mix=M,explore=E, fixed "
        "weightings that replay the logged evidence at their own alpha), an Open Bandit Dataset folder or CSV "
        "(targets: bts, uniform), or any CSV/parquet with --columns (targets: column:NAME, uniform). Every kind "
        "takes 'logged'. With --validate, log with the logging flags below --reps times, estimate the targets, "
        "compute their true values in the simulator, and report interval coverage and relative errors (reps.csv, "
        "validation.csv, live.csv, validation.png); --truth now compares with the value at the log's last step, "
        "which the drift-aware estimators (sw-ipw, sw-snipw, decay-ipw, decay-snipw) estimate. With --sequential, "
        "estimate weight policies over the first --horizons steps of each logged episode (tis, pdis, sntis, "
        "snpdis, dr, sndr, with effective sample sizes) from a log made with driftrec log --weight-noise S; with "
        "--sequential --validate, check them against the targets' live returns on the same users.",
    ),
    "replay": (
        "replay weighting strategies over real timelines (MovieLens or your log): HR@10 and NDCG@10 with CIs",
        "Run each weighting strategy over real users' chronological histories (MovieLens' liked movies, rating >="
        " --min-rating, or the events of a --timelines log whose items are ids of a --catalog file): the first "
        "--warmup items give the prior, then at each later item the strategy chooses weights from the simulator's"
        " 11 observation features, the recommender ranks the catalog (items already liked left out), the real "
        "next item is scored (HR@k, NDCG@k), and the profiles absorb it at the chosen alpha. Strategies: fixed "
        "weights at each --alphas, change-ctr, change-cosine, 1/t, a trained PPO policy (ppo, --policy FILE) and "
        "popularity (likes before each event). Prints means with 95% intervals over users and the paired NDCG "
        "difference against the best fixed alpha; writes config.json, summary.json, per_user.csv and replay.png "
        "to --out.",
    ),
    "geometry": (
        "a catalog's geometry raw and centred, and reduced dimensions: fidelity and speed-up",
        "For one catalog: the raw vectors' mean norm and random-pair cosines, the same after centring, and its "
        "10th-neighbour cosine (the catalog utility unit); then for each pca:D of --dims: the variance kept, the "
        "share of each item's top-10 neighbours kept (against the centred full dimension), and the env's user-"
        "steps per second against the full dimension. Writes summary.json to --out.",
    ),
    "soak": (
        "long run of every preset checking invariants (no NaN, unit norms, simplex) and memory",
        "Run --user-steps user-steps of every preset (batched, --users users, random weights each step) and check"
        " the state every --check-every steps: no NaN or infinity, unit vectors (facets, mission topics, intents,"
        " profiles) with norm 1 within --tolerance, facet weights on the simplex, fatigue norms at most 1. "
        "Reports resident memory after a warm-up and at the end. Prints a table, writes summary.json and soak.csv"
        " to --out; exits 1 if any preset fails a check.",
    ),
    "bench": (
        "benchmarks: env throughput, step cost vs the scoring kernel, per-user references, memory, PPO split",
        "Measure, in one run: user-steps per second of the batched env (scenario mixed, every dynamic on) for "
        "each N x M x d of the grid and each engine of --engines, each point in a fresh process with its peak "
        "memory; one env step divided by "
        "the bare scoring kernel (the (N, d) x (d, M) product plus top-k); at the reference size, the same "
        "dynamics stepped one user at a time in a Python loop and gymnasium's SyncVectorEnv of single-user envs, "
        "as ratios; one user's steps per second in the standard gymnasium.make env (and RecoGym's, with "
        "--recogym); and the env's share of a PPO training run with the headline's settings. With --baseline DIR "
        "(another driftrec checkout), every figure is timed with it too, right after, and printed as a speed-up. "
        "Prints a table and "
        "writes summary.json and points.csv to --out. The full run takes about 15 minutes on 2 CPU cores (--engines "
        "eager: under 6); --quick runs a few small points in seconds.",
    ),
    "portability": (
        "do the presets mean the same on every catalog? random and tuned-constant shares of the oracle",
        "For each catalog and preset: grid-tune the fixed weights (best-fixed) on the tuning seeds, then run "
        "best-fixed, the oracle and random slates on the same users of held-out seeds. Prints, per preset and "
        "catalog, clicks per step and the shares of the oracle that best-fixed and random reach (95% intervals "
        "over seeds), whether oracle > best-fixed > random with separated intervals, and per preset whether the "
        "shares differ by at most --tolerance between any two catalogs. Writes summary.json, portability.csv and "
        "portability.png to --out; exits 1 when a check fails. Default: synthetic, MovieLens and courses, about 6"
        " to 11 minutes on 2 CPU cores after the first encoding.",
    ),
    "reproduce": (
        "run the commands whose outputs README.md and docs/ publish, as the pages print them",
        "The published runs are listed in experiments/configs/published.yaml: each command as its pages print "
        "it, the pages, about how long it takes on 2 CPU cores, its kind (simulated: moves with the model version "
        "and PPO's settings; data: no simulation; timing) and the runs whose outputs it reads. Name runs, or "
        "choose them with --kind, --page or --all; the runs they need come first. Each runs in its own process "
        "in the current folder, so its outputs land where the pages say (run from the repository root, with "
        "../shared beside it for the OBD runs). A run whose exit status differs from the published one fails "
        "and stops the rest (--keep-going: only the runs that need it). Writes reproduce.json (every run's exit "
        "status and wall time, after each run) to --out. --list prints the selection without running it.",
    ),
}
"""command -> (help, description)."""
