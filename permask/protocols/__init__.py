"""Published evaluation protocols, ported to numpy (no jax / tensorflow / torch at run time).

One module per protocol; each computes exactly what its reference computes on the same arrays
(tests/test_protocols.py checks every mode against the reference code in ../shared/upstream):

    tapvid3d   TAPVid-3D: 3D AJ, APD, OA with every `scaling` mode and depth-adaptive or fixed
               thresholds (google-deepmind/tapnet `tapnet/tapvid3d/evaluation/metrics.py`)
    tapvid2d   TAP-Vid / CoTracker: 2D AJ, <delta^x_avg, OA in pixels at 256x256
               (tapnet `tapnet/tapvid/evaluation_datasets.py`, `compute_tapvid_metrics`)
    mvtracker  MVTracker's own evaluation (ethz-vlg/mvtracker `mvtracker/evaluation/metrics.py`,
               `evaluate_predictions`, with the per-dataset settings of `evaluator_3dpt.py`)
    modes      the `metrics` config block turned into figures of one instance, every figure named
               with its protocol and the mode written beside it (`mode_labels`)
"""
