"""The research scripts behind the tables in docs/compare.md (bandit defaults, alert rule, transfer)."""
