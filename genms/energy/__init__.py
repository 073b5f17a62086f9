"""R_lo: the formation-energy GNN — periodic graphs, training task, predictor, commands.

``from genms.energy.predictor import load_predictor`` gives the shipped model as a
:class:`genms.interfaces.EnergyPredictor`; see ``docs/energy.md``.
"""
