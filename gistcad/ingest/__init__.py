"""Validate, then write in one transaction: the way every center's data enter the store."""
