"""gistcad: computer-aided diagnosis for gastrointestinal stromal tumours (GIST) on CT."""

__version__ = "0.1.0"
