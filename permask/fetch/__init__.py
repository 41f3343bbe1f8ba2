"""Fetching the learned models' upstream code and weights into permask's model cache, once.

- `spec`: what a model needs (`WeightFile`, the pinned `owner/repo:<commit>`), as config values;
- `store`: where things live (`models_dir()`, $PERMASK_MODELS_DIR) and sha256 verification;
- `code`: the pinned commit's archive from GitHub (or the torch.hub cache), checked against its
  commit and unpacked;
- `weights`: weight files through `huggingface_hub` (or its cache), checked against the sha256
  the config records;
- `command`: `permask fetch tracker=... depth=... [--to DIR]` for offline clusters.

Everything that goes wrong raises `FetchError`: one line naming what is missing, where it would
be stored and the command that fetches it elsewhere.
"""
