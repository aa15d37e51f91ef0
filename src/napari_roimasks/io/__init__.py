"""Files in and out, no GUI: movies, ROI files (a registry of formats), traces, motion offsets."""
