"""Subsidy policy, the append-only ledger and the bureau's reports."""
