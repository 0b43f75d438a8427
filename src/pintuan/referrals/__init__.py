"""Referrals: the referral tree, attribution, commission plans, the ledger, withdrawals."""
