"""Reporting's use cases, by feature: the legal queue, issuing reports, statistics."""
