"""The built-in demo scene: a small multi-view RGB-D recording of rigid objects with ground truth.

Used only by the demo-loading path (`input.demo`, benchmarks and tests); nothing that evaluates
or tracks imports it.

- `params`: `DemoParams` (config: `input.demo`), `SENSOR_MAX_DEPTH`;
- `textures`: procedural textures and shading;
- `objects`: boxes and ellipsoids, their ray intersection;
- `cameras`: the static cameras and their pixel rays;
- `motion`: the choreography (object poses over time) and contact frames;
- `render`: ray-cast background and objects into rgb, depth and instance ids;
- `scene`: `make_demo_scene`, the arrays of an NPZ in the old pipeline format;
- `cache`: `demo_scene_path`, the generated file in the cache folder (`params_hash`).
"""
