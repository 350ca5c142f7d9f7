"""Old import path of the campaign FireTasks, kept for stores written before the split.

Campaign stores (`store.json`, MongoDB) written before hecathode 0.2 name their tasks
`{{workflows.tasks.RelaxTask}}` etc.; FireWorks imports this module to load them. New
stores use `workflows.fireworks.tasks`.
"""

from workflows.fireworks.tasks import AnalysisTask, NebTask, RelaxTask, StructuresTask

__all__ = ["AnalysisTask", "NebTask", "RelaxTask", "StructuresTask"]
