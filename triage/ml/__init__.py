"""The machine-learning building blocks: encoders (the base class, MiniLM on PyTorch or ONNX int8, the
multilingual USE, choosing one by name), the embedding cache and micro-batching, vector and BM25 indexes,
the classifier stack (inputs, TF-IDF vocabularies, stacking, calibration, conformal sets, fold averaging,
decision rules, novelty, saved state), contrastive fine-tuning of MiniLM, bundle files on disk, rates and thread
pinning.

May import: ``models`` and ``triage.errors``. Nothing here knows about tickets, articles or HTTP."""
