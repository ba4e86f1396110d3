"""Marshmallow wire schemas: ScamShare's API contract. Imports nothing from `scamshare`."""
