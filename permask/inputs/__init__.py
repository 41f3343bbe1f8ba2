"""The input side: an input NPZ read without executing pickles and validated into a `Scene`.

- `load`: `load_scene`, `scene_from_arrays` (the readers put together), `used_keys`,
  `file_fingerprint`;
- `npz`: members read one by one within the limits (`load_npz_safely`, `npz_keys`);
- `safe_pickle`: the restricted unpickler for object members, `check_plain`;
- `limits`: `DecodeLimits`, the bounds on what one file may inflate;
- `checks`: the error context and the array checks every reader shares;
- `arrays`: video, depth, intrinsics, extrinsics, camera ids;
- `masks`: instance masks in their three forms, `mask_ratio`, `mask_at_depth_resolution`;
- `instance_ids`: ids as a file names them (`instance_id_of`, `ids_of`);
- `annotations`: contact frames, query points, ground-truth poses;
- `resample`: temporal stride, spatial downsampling and the crops they need.

The scene layout itself (`Scene`, `Queries`, `TrackResult`) is `permask.data`.
"""
