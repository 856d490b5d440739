"""Intake's routes, one module per resource."""
