"""Run output: the report directory, summary.json and the one-line summary for cron."""
