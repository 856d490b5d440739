"""Reporting's HTTP API: legal review, issued reports, statistics."""
