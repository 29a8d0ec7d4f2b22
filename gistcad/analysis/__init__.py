"""Pure statistics: survival, clinical risk schemes, therapy implications, table one.

Nothing here touches the database, files or Streamlit: data frames and arrays in,
frozen dataclasses or data frames out.
"""
