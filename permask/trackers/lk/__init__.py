"""`tracker=lk`: multi-view 3D point tracking with OpenCV's pyramidal Lucas-Kanade, on the CPU
(the ideas and how they are measured: docs/lk.md).

- `config`: `LKConfig`, every setting;
- `tracker`: `LKTracker`, the frame loop of one `track` call;
- `flow`: the LK calls with their forward-backward check, window sizes, where each step starts;
- `views`: what each view contributes to a call: cameras, masked grey crops;
- `silhouette`: measures of the instance's mask: boxes, thickness, edge distance, nearest pixel;
- `rigid_model`: the instance's rigid model in a common object frame (real 3D only).
"""

from permask.trackers.lk.config import LKConfig
from permask.trackers.lk.tracker import LKTracker

__all__ = ["LKConfig", "LKTracker"]
