"""Readers and writers, one module per format family (numpy, h5py and the standard library)."""
