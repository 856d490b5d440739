"""Review's HTTP API, for triage coordinators, clinicians and senior clinicians."""
