"""Logs and what is read from them: trajectory logs, feedback loaders, off-policy estimators, replay."""
