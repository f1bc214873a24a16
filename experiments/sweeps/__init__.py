"""Where a sweep's units run (local processes or Ray), the resumable store, one run per folder."""
