"""Datasets: source loaders, the compact ``.npz`` cache and the MP training union."""
