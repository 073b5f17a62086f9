"""The one training loop shared by the denoiser and the energy GNN."""
