"""Everything that touches the output folder: safe names, the layout of one run's files, atomic
writing, the folder lock, the run manifest and the tracked-file format."""
