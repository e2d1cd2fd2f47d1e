"""Session use cases: open, claim, run one record, finish, cancel, reap."""
