"""Track quality figures.

With ground truth (3D, metric thresholds d in metres), evaluated on frames strictly after each
query's own frame:
- pts_within_d: share of GT-visible (point, frame) pairs whose error is below d; delta_avg: mean over d.
- jaccard_d = TP / (GT-visible + FP), TP: within d, predicted visible and GT visible;
  FP: predicted visible and (GT occluded or not within d). AJ: mean over d.
- OA: share of (point, frame) pairs where predicted visibility equals GT visibility.
- median_error_cm: median 3D error over GT-visible pairs, in centimetres.
- survival: mean over points of the share of evaluated frames before the first GT-visible frame
  whose error exceeds the largest threshold (1.0 = never lost).

Without ground truth (real recordings; see `gt_free_metrics`), on the same evaluated frames, for
the (point, frame) pairs the tracker calls visible. A view *sees* a point when the point projects
inside its image, in front of the camera, and is not hidden: where the view measured depth at that
pixel, the measurement is not closer than the point by more than `depth_tolerance` (a point
floating in front of the observed surface is still seen; one behind it is not).
- mask_adherence (higher is better): mean over visible pairs seen by at least one view of the
  share of the seeing views in which the point lies inside its own instance's mask.
- static_mask_adherence: the same for the zero-motion track (each query kept at its position, all
  frames visible): how much the object's masks moved away from the queries. A reference, not a
  score: near 1 the object hardly moved and adherence cannot tell trackers apart.
- motion_adherence (higher is better): (mask_adherence - static) / (1 - static): 0 for a tracker
  that stands still, 1 for one whose points all stay inside the mask, negative when worse than
  standing still. NaN when the masks hardly moved (1 - static < MIN_MASK_MOTION).
- depth_err_cm (lower is better): median over visible pairs of the smallest |projected z - observed
  depth| over the views that measured depth at the point's pixel (distance to the observed surface
  along the camera rays), in cm; depth_within_2cm (higher is better): share of those pairs within
  2 cm.
- tracked_at_end (higher is better): share of points that at the last frame are predicted visible
  AND lie inside their mask in at least half the views that see them (a point left behind by the
  object does not count as tracked, unlike `visible_at_end`, which only reads the tracker's flag).
- jitter_mm (lower is better): median norm of the second temporal difference
  x[t+1] - 2 x[t] + x[t-1] over visible triples, in mm. Standing still scores 0: read it together
  with adherence, never alone.
"""

from permask.metrics.figures import (DIRECTION, PROTOCOL_PREFIXES, as_list, direction,
                                     is_number, overall, summary_figures)
from permask.metrics.no_truth import (DEPTH_WITHIN, GT_FREE_DEPTH_TOLERANCE, MIN_MASK_MOTION,
                                      GtFree, Observations, gt_free_metrics, jitter_mm, observe,
                                      static_tracks)
from permask.metrics.truth import (DEFAULT_THRESHOLDS, evaluation_mask, ground_truth_tracks,
                                   gt_metrics, gt_per_frame, survival, true_tracks,
                                   true_visibility)

__all__ = ["DEFAULT_THRESHOLDS", "DEPTH_WITHIN", "DIRECTION", "GT_FREE_DEPTH_TOLERANCE",
           "MIN_MASK_MOTION", "PROTOCOL_PREFIXES", "GtFree", "Observations", "as_list",
           "direction", "evaluation_mask", "ground_truth_tracks", "gt_free_metrics", "gt_metrics",
           "gt_per_frame", "is_number", "jitter_mm", "observe", "overall", "static_tracks",
           "summary_figures", "survival", "true_tracks", "true_visibility"]
