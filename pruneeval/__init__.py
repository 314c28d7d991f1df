"""pruneeval: measure and shrink the thinking length of long-chain-of-thought models.

Importing the package is cheap: engines (vLLM, transformers models), lm-eval and
math-verify are imported only by the code paths that use them.
"""

__version__ = "0.1.0"
