"""Thin Streamlit views: read widgets, call gistcad, render."""
