"""Live shadow mode: the GitHub App side of shadowbot (webhooks, snapshots, posting, commands)."""
