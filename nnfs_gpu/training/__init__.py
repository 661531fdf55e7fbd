"""Training a Model: the loop and everything only it uses.

``loop`` runs ``Model.train``, ``evaluate`` and ``predict`` (the passes, the step); ``strategy``
says how a step is shared among processes; ``arguments`` checks ``train``'s arguments; ``data``
checks a call's data and cuts it into batches; ``updates`` and ``flat`` apply the optimizer (per
layer, or once over flat buffers); ``watch`` reads numbers back without stalling a step; ``history``
keeps the per-epoch numbers ``train`` returns.
"""

from .loop import TrainingRun, backward, evaluate, fit, forward, forward_stages, predict
from .strategy import LOCAL, LocalSteps

__all__ = ["LOCAL", "LocalSteps", "TrainingRun", "backward", "evaluate", "fit", "forward", "forward_stages", "predict"]
