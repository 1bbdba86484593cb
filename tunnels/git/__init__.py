"""Git as the orchestrator uses it: a worktree and a branch per task, commits and diffs it records."""
