"""Neural networks (Flax Linen): shared layers and the crystal denoiser."""
