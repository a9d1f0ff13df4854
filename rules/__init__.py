"""Business rules: workflows, quotas, validation and reference data, with no Telegram import."""
