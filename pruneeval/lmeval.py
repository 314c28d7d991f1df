"""lm-eval models over pruneeval's engines (``hf_len``, ``vllm_len``) and ``pruneeval lm-eval``.

The tasks themselves (``tasks/*.yaml``) and what they reach by ``!function`` (docs, prompt preset,
context cap, metrics) are in ``pruneeval.lmeval_tasks``; ``pruneeval tasks install`` (in
``pruneeval.lmeval_install``) lets stock ``lm_eval --tasks gsm8k_len`` find them.

Models (``pruneeval.lmeval_models``): ``hf_len`` (``HFLen``) generates through ``pruneeval.engines``
(the engine applies the chat template itself) and returns ``GenText``, so lengths are exact; a stop
string cuts a completion where an engine stopping on it would (``pruneeval.lmeval_stop``).  A backend
is one small subclass of ``EngineLM``: ``vllm_len`` is ``engine_name = "vllm"`` plus its
``engine_options``.  lm-eval 0.4.13 reads no model plugins, so run them through ``run_lm_eval``
(``pruneeval lm-eval ...``, in ``pruneeval.lmeval_cli``), which registers the models, adds the task
dir and skips indexing lm-eval's own task files when only our tasks are asked for.

Several completions per problem: give a task ``repeats: K`` and a filter that keeps all K (the
default filter keeps only the first), e.g. a YAML next to your run::

    include: /path/from/pruneeval-tasks-path/gsm8k_len.yaml
    task: gsm8k_len_k16
    repeats: 16
    filter_list: [{name: all, filter: [{function: take_first_k, k: 16}]}]

and sample with ``--gen_kwargs temperature=0.5,top_p=0.8``.  ``hf_len`` turns the K identical
requests into one engine call with ``n=K``; each doc's metrics are then means over its K
completions.  ``n`` cannot go through ``--gen_kwargs``: lm-eval wants one string per request.

This module is the name users and the ``lm_eval.models`` entry points know
(``pruneeval.lmeval:HFLen``, ``pruneeval.lmeval:VLLMLen``); the code lives in the modules above.
"""

from .lmeval_cli import run_lm_eval, vllm_version_shim
from .lmeval_models import OUR_MODELS, EngineLM, HFLen, VLLMLen
from .lmeval_stop import stop_at

__all__ = ["EngineLM", "HFLen", "OUR_MODELS", "VLLMLen", "run_lm_eval", "stop_at", "vllm_version_shim"]
