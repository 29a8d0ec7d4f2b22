"""Showing CT: slices in radiological orientation, windows, overlays, tumour measures."""
