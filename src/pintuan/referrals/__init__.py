"""Referrals: the invite tree, attribution, commission plans, the ledger and withdrawals."""
