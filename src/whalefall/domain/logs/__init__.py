"""Pure rules for log events: redaction of secrets and the fixed module mapping."""
