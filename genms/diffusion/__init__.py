"""π_lo: formula-conditioned crystal diffusion (training task, sampler, Z prior, bundles)."""
