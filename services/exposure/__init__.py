"""Exposure: which open order lines will miss their promise, why, what it costs, and which to work first."""
