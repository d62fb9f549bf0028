"""Gemini-GAN and V-AMA for cardiac cine MR: networks, trainers, transforms and a synthetic data engine."""

from __future__ import annotations

__version__ = "0.1.0"
