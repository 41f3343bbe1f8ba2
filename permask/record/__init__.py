"""Everything Rerun: per-instance and combined recordings, blueprint, viewing script, read-back.

Entity layout (each path part escaped with `rr.escape_entity_path_part`, e.g. "cam 1" -> `cam\\ 1`):

    world                                     AnnotationContext (static): 0 clear, k = instance
    world/cameras/{cam}                       Transform3D: world-to-camera extrinsics, relation
                                              ChildFromParent; Pinhole: K, (W,H), RDF. Static when
                                              constant over time, else one row per frame
    world/cameras/{cam}/rgb                   EncodedImage (JPEG) or Image, per frame
    world/cameras/{cam}/masks/{instance}      SegmentationImage per frame at depth resolution
    world/points/{cam}                        coloured, subsampled depth cloud, per frame
    world/queries/{instance}                  static Points3D: query positions, one label
    world/queries/{instance}/{tracker}        only where a tracker's queries differ from the first's
    world/tracks/{tracker}/{instance}         Points3D per frame: the visible track points
    world/tracks/{tracker}/{instance}/trails  LineStrips3D per frame: the last `trail_length` frames

Masks live under the pinhole entity, so they overlay the RGB image in the camera's 2D view and
inside the frustum of the 3D view. The timeline is `frame`, an integer sequence holding
`scene.frame_indices` (or 0..T-1). Temporal data is sent in columns (`send_columns`); per-entity
constants (colours, radii, image formats) are logged once as static components beside them.

Every file of one scene shares application id and recording id (`RecordingIds.for_scene`), so files
opened together merge into one recording; paths never collide across instances or trackers. Files
are written atomically: temporary name in the same folder, finalized (footer), then `os.replace`.

The package, one job per module (callers import the module they need; nothing is re-exported here):

    identity   recording ids of a scene; instance class ids and colours
    paths      the entity paths above and the `frame` timeline
    context    the scene context (cameras, RGB frames, depth clouds): prepared once, logged per file
    tracks     one instance's masks, queries, tracks and trails
    blueprint  the viewer layout
    sink       writing one .rrd safely: atomic, and a full disk cannot hang the process
    write      the files: per-instance, combined and scene recordings, the viewing script
    recorder   which context goes into which file of a run (`record.scene`), and the live stream
    live       streaming a run to a viewer while it works (`record.spawn`, `record.connect`)
    readback   reading a .rrd back (rows per entity), for tests and checks
"""
