"""The HTTP side: the webhook endpoint, health and metrics."""
