"""pruneeval's lm-eval task YAMLs (installed as ``pruneeval.tasks``; see ``pruneeval.lmeval_tasks``)."""
