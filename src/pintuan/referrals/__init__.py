"""Referrals: the invitation tree, share links and attribution of orders to sharers."""
